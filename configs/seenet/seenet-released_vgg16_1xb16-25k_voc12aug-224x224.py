# SeeNet after the authors' released Caffe model (houqb/SeeNet deploy_seenet.prototxt,
# crelu_layer.py): 2 convs per branch + dropout 0.5 (released: in S_A only; here in every
# branch), absolute strict thresholds 0.8 / 0.0 on the min-max normalised map
# (deploy_seenet.prototxt L548, crelu_layer.py L38-41; the background is never sign-flipped:
# plain erasing), S_C below (0.8 + 0.0) / 2 = 0.4 (the deploy file has no S_C, so this is the
# paper's rule on the released thresholds). Inference as the released
# notebook (vis.ipynb), inherited from seenet_vgg16_*: one S_B pass per tagged class, bicubic
# resize before the normalisation. Not reproduced (bugs): the layer's batch-1 mask and
# channel-0 backward, and the notebook's label blob that is never cleared between classes.
# Other differences: the input size (original size here, 256x256 in the notebook) and the
# input normalisation (torchvision's mean/std here, the Caffe BGR mean there).
_base_ = ['./seenet_vgg16_1xb16-25k_voc12aug-224x224.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
model = dict(
    head=dict(num_convs=2, dropout_ratio=0.5, high_threshold=0.8, low_threshold=0.0,
              threshold_rule='released'))

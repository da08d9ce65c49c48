# SeeNet as the authors' released Caffe model (deploy_seenet.prototxt, crelu_layer.py; spec
# seenet.md §1, §8): 2 convs per branch + dropout 0.5, absolute strict thresholds 0.8 / 0.0
# on the min-max normalised map (so the background is never sign-flipped: plain erasing),
# S_C below 0.4. The batch-1 and channel-0 bugs of the released layer are not reproduced.
_base_ = ['./seenet_vgg16_1xb16-25k_voc12aug-224x224.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
model = dict(
    head=dict(num_convs=2, dropout_ratio=0.5, high_threshold=0.8, low_threshold=0.0,
              threshold_rule='released'))

# SeeNet after the authors' released Caffe model's head: 2 convs + dropout 0.5, absolute strict
# thresholds 0.8 / 0.0 (README, "Configs").
_base_ = ['./seenet_vgg16_1xb16-25k_voc12aug-224x224.py']
model = dict(
    head=dict(num_convs=2, dropout_ratio=0.5, high_threshold=0.8, low_threshold=0.0,
              threshold_rule='released'))

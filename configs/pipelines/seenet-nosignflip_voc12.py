# SeeNet without the sign flip (Table 1, setting 2) on VOC 2012, all three stages; otherwise
# as seenet_voc12.py (Table 1 compares the two with the VGG-16 DeepLab, single-scale test
# without CRF: 55.8 vs 57.3 val mIoU).
_base_ = ['./seenet_voc12.py']
custom_imports = dict(imports=['wsss_toolbox.methods.seenet'], allow_failed_imports=False)
stage1 = dict(config='../seenet/seenet-nosignflip_vgg16_1xb16-25k_voc12aug-224x224.py')

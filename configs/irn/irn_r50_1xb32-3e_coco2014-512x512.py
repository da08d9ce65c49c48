# IRN's boundary network on COCO 2014 train (80 classes) with the VOC recipe (the papers give
# no COCO schedule): ResNet-50 frozen, batch 32, 3 epochs, lr 0.1 poly, 512 crops. Boundary
# maps at inference: the image padded to 512x512; a side above 512 (COCO images reach 640)
# is padded to the preprocessor's divisor only (the authors' VOC code has no such images).
_base_ = ['./irn_r50_1xb32-3e_voc12aug-512x512.py']

data_root = 'data/coco2014'
train_dataloader = dict(
    dataset=dict(_delete_=True, type='COCOImageLabelDataset', data_root=data_root,
                 ann_file='annotations/instances_train2014.json',
                 data_prefix=dict(img_path='train2014'), pipeline={{_base_.train_pipeline}}))

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from wsss_toolbox.models.classifiers import WSSSClassifier
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample

NUM_CLASSES = 3


def _build(num_convs=1, **head_kwargs):
    init_default_scope('wsss_toolbox')
    cfg = dict(
        type='WSSSClassifier',
        backbone=dict(type='TinyConvNet', base_channels=8),
        head=dict(type='CAMHead', in_channels=32, num_classes=NUM_CLASSES,
                  num_convs=num_convs, channels=16, **head_kwargs))
    return MODELS.build(cfg)


def _batch(shapes=((32, 32), (24, 20))):
    """Two uint8 BGR images of different sizes, as the dataloader (pseudo_collate) gives."""
    torch.manual_seed(0)
    inputs, samples = [], []
    for index, (height, width) in enumerate(shapes):
        inputs.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8))
        sample = WSSSDataSample(metainfo=dict(img_id=f'img{index}', img_shape=(height, width),
                                              ori_shape=(height, width)))
        sample.gt_label = torch.eye(NUM_CLASSES)[index]
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_built_from_config_with_default_preprocessor():
    model = _build()
    assert isinstance(model, WSSSClassifier)
    preprocessor = model.data_preprocessor
    assert isinstance(preprocessor, ImgDataPreprocessor)
    assert preprocessor.pad_size_divisor == 8 and preprocessor._channel_conversion
    torch.testing.assert_close(preprocessor.mean.flatten(),
                               torch.tensor([123.675, 116.28, 103.53]))


def test_tensor_mode_returns_head_outputs():
    model = _build().eval()
    data = model.data_preprocessor(_batch(), False)
    assert data['inputs'].shape == (2, 3, 32, 32)  # padded to the largest image
    outputs = model(data['inputs'], data['data_samples'], mode='tensor')
    assert outputs['logits'].shape == (2, NUM_CLASSES)
    assert outputs['cams'].shape == (2, NUM_CLASSES, 4, 4)  # output stride 8
    assert model(data['inputs'])['cams'].shape == (2, NUM_CLASSES, 4, 4)


def test_predict_mode_fills_scores_and_image_size_maps():
    model = _build().eval()
    data = model.data_preprocessor(_batch(), False)
    with torch.no_grad():
        outputs = model(data['inputs'], mode='tensor')
        samples = model(data['inputs'], data['data_samples'], mode='predict')
    full = F.interpolate(F.relu(outputs['cams']), size=(32, 32), mode='bilinear',
                         align_corners=False)
    assert [s.pred_maps.shape for s in samples] == [(NUM_CLASSES, 32, 32),
                                                    (NUM_CLASSES, 24, 20)]
    for index, sample in enumerate(samples):
        height, width = sample.img_shape
        torch.testing.assert_close(sample.pred_scores, torch.sigmoid(outputs['logits'][index]))
        # the second image's maps come from the top-left of the padded batch
        torch.testing.assert_close(sample.pred_maps, full[index, :, :height, :width])
        assert sample.pred_maps.min() >= 0
        assert sample.batch_input_shape == (32, 32)


def test_test_step_and_predict_without_data_samples():
    model = _build().eval()
    samples = model.test_step(_batch())
    assert len(samples) == 2 and samples[1].pred_maps.shape == (NUM_CLASSES, 24, 20)
    inputs = torch.randn(2, 3, 16, 24)
    samples = model(inputs, mode='predict')
    assert samples[0].pred_maps.shape == (NUM_CLASSES, 16, 24)
    assert samples[0].pred_scores.shape == (NUM_CLASSES, )


def test_loss_mode_returns_losses_and_records_detached_outputs():
    model = _build().train()
    assert model.train_outputs is None
    data = model.data_preprocessor(_batch(), True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert set(losses) == {'loss_cls'} and losses['loss_cls'].requires_grad
    recorded = model.train_outputs
    assert recorded['logits'].shape == (2, NUM_CLASSES)
    assert recorded['cams'].shape == (2, NUM_CLASSES, 4, 4)
    assert not recorded['logits'].requires_grad and not recorded['cams'].requires_grad
    assert recorded['data_samples'] is data['data_samples']
    assert recorded['batch_input_shape'] == (32, 32)
    with pytest.raises(ValueError, match='gt_label'):
        model(data['inputs'], None, mode='loss')
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(data['inputs'], mode='logits')


def _red_square_batch():
    """8 grey 32x32 images; class 0 = a red square is present, class 1 = never present."""
    generator = torch.Generator().manual_seed(1)
    inputs, samples = [], []
    for index in range(8):
        image = torch.full((3, 32, 32), 128, dtype=torch.uint8)
        image += torch.randint(0, 20, (3, 32, 32), generator=generator, dtype=torch.uint8)
        has_square = index % 2 == 0
        if has_square:
            top, left = (index * 3) % 20, (index * 5) % 20
            image[:, top:top + 10, left:left + 10] = torch.tensor([0, 0, 255],
                                                                  dtype=torch.uint8)[:, None, None]
        sample = WSSSDataSample(metainfo=dict(img_shape=(32, 32)))
        sample.gt_label = torch.tensor([float(has_square), 0.])
        inputs.append(image)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def single_thread():
    """Tiny tensors: one intra-op thread is faster and immune to CPU oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_train_step_decreases_loss_on_toy_problem(single_thread):
    torch.manual_seed(0)
    init_default_scope('wsss_toolbox')
    model = MODELS.build(dict(
        type='WSSSClassifier',
        backbone=dict(type='TinyConvNet', base_channels=8),
        head=dict(type='CAMHead', in_channels=32, num_classes=2, num_convs=0)))
    model.init_weights()
    model.train()
    optim_wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=0.01))
    batch = _red_square_batch()
    losses = [model.train_step(batch, optim_wrapper)['loss'].item() for _ in range(10)]
    assert losses[-1] < 0.6 * losses[0], losses
    assert model.train_outputs['logits'].shape == (8, 2)
    # the red-square class now scores higher on images that contain it
    model.eval()
    scores = torch.stack([s.pred_scores for s in model.test_step(_red_square_batch())])
    assert scores[0::2, 0].min() > scores[1::2, 0].max()


def test_vgg16_cam_classifier_has_output_stride_8():
    init_default_scope('wsss_toolbox')
    model = MODELS.build(dict(
        type='WSSSClassifier', backbone=dict(type='VGG16'),
        head=dict(type='CAMHead', in_channels=512, num_classes=20, num_convs=1, channels=64)))
    model.eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 40, 48))
    assert outputs['cams'].shape == (1, 20, 5, 6)

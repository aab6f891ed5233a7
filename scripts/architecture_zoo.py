"""Small random-weight members of today's model families, built from torchvision's and Hugging Face's own classes.

Every builder returns (model in eval mode, input shape without batch, [hooked layer module paths], kind) where kind is
"image" (input (N, 3, H, W)) or "embeds" (a float `inputs_embeds` input (N, T, D) to a transformer).  Widths and depths
are cut down so that the ONNX files stay small; the operators the exporters emit are those of the full-size models
(same classes, same forward code).  BatchNorm affine parameters are random and its running statistics are those of
a calibration batch: with torchvision's initialisations alone (kaiming fan-out on depthwise convolutions, unit
running variance) the signal of depthwise networks vanishes layer by layer and the output of mobilenet_v3, mnasnet or
efficientnet changed by 1e-7–1e-4 of its size from one input to another, so every attribution was rounding noise.

Imported by make_architecture_fixtures.py.
"""
import torch
import torch.nn as nn
import torchvision.models as tvm
from torchvision.models import resnet as tv_resnet

IMAGE = (3, 32, 32)
TOKENS, HIDDEN = 6, 32


class SmallResNet(tv_resnet.ResNet):
    """torchvision's ResNet (same blocks, same forward, same module names) with widths (8, 16, 32, 64)."""

    def __init__(self, block, layers, widths=(8, 16, 32, 64), groups=1, width_per_group=64, num_classes=10):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)


def resnet():
    return SmallResNet(tv_resnet.BasicBlock, [2, 1, 1, 1]), IMAGE, ["layer2", "layer3"], "image"


def resnext():
    return SmallResNet(tv_resnet.Bottleneck, [1, 1, 1, 1], groups=4, width_per_group=16), IMAGE, \
        ["layer2", "layer3"], "image"


def wide_resnet():
    return SmallResNet(tv_resnet.Bottleneck, [1, 1, 1, 1], widths=(4, 8, 16, 32), width_per_group=128), IMAGE, \
        ["layer2", "layer3"], "image"


def vgg():
    m = tvm.VGG(tvm.vgg.make_layers([8, "M", 16, "M", 32, 32, "M"], batch_norm=True), num_classes=10)
    m.avgpool = nn.AdaptiveAvgPool2d((2, 2))
    m.classifier = nn.Sequential(nn.Linear(32 * 4, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))
    return m, IMAGE, ["features.10", "classifier.1"], "image"


def squeezenet():
    from torchvision.models.squeezenet import Fire
    m = tvm.SqueezeNet("1_1", num_classes=10)
    m.features = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(True), nn.MaxPool2d(3, 2, ceil_mode=True),
                               Fire(16, 8, 16, 16), Fire(32, 8, 16, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
                               Fire(32, 16, 32, 32))
    m.classifier[1] = nn.Conv2d(64, 10, 1)
    return m, IMAGE, ["features.4", "features.6"], "image"


def densenet():
    m = tvm.DenseNet(growth_rate=8, block_config=(2, 2, 2), num_init_features=16, bn_size=2, num_classes=10)
    return m, IMAGE, ["features.transition1", "features.denseblock3"], "image"


def mobilenet_v2():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]]
    m = tvm.MobileNetV2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting)
    return m, IMAGE, ["features.3", "features.5"], "image"


def mobilenet_v3():
    from torchvision.models.mobilenetv3 import _mobilenet_v3_conf, MobileNetV3
    setting, last = _mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25)
    return MobileNetV3(setting, 64, num_classes=10), IMAGE, ["features.4", "features.9"], "image"


def efficientnet():
    from torchvision.models.efficientnet import MBConvConfig, EfficientNet
    setting = [MBConvConfig(1, 3, 1, 8, 8, 1), MBConvConfig(6, 3, 2, 8, 12, 2), MBConvConfig(6, 5, 2, 12, 16, 1)]
    return EfficientNet(setting, 0.2, num_classes=10, last_channel=64), IMAGE, ["features.2", "features.3"], "image"


def efficientnet_v2():
    from torchvision.models.efficientnet import FusedMBConvConfig, MBConvConfig, EfficientNet
    setting = [FusedMBConvConfig(1, 3, 1, 8, 8, 1), FusedMBConvConfig(4, 3, 2, 8, 16, 1),
               MBConvConfig(4, 3, 2, 16, 24, 1)]
    return EfficientNet(setting, 0.2, num_classes=10, last_channel=64), IMAGE, ["features.2", "features.3"], "image"


def regnet():
    from torchvision.models.regnet import BlockParams, RegNet
    params = BlockParams.from_init_params(depth=3, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return RegNet(params, num_classes=10, stem_width=8), IMAGE, ["trunk_output.block1", "trunk_output.block2"], \
        "image"


def shufflenet():
    return tvm.ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 64], num_classes=10), IMAGE, ["stage2", "stage3"], "image"


def mnasnet():
    m = tvm.MNASNet(0.25, num_classes=10)
    # The fixed 1280-channel head conv is most of the file: narrow it to 64 (same ops).
    m.layers[14] = nn.Conv2d(m.layers[14].in_channels, 64, 1, bias=False)
    m.layers[15] = nn.BatchNorm2d(64)
    m.classifier[1] = nn.Linear(64, 10)
    m.layers[12] = m.layers[12][:1]  # one of the four repeats of the 192·α-channel stage
    return m, IMAGE, ["layers.8", "layers.12"], "image"


def convnext():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    setting = [CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)]
    # torchvision starts the layer scale at 1e-6 (blocks almost off); trained networks have 0.1–1.
    return ConvNeXt(setting, stochastic_depth_prob=0.0, layer_scale=0.5, num_classes=10), IMAGE, \
        ["features.1.0.block.4", "features.3.0.block.4"], "image"


def vit():
    m = tvm.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
                              num_classes=10)
    nn.init.normal_(m.heads.head.weight, std=0.2)  # torchvision zero-initialises the head: the output would be constant
    return m, IMAGE, ["encoder.layers.encoder_layer_0.mlp.1", "encoder.layers.encoder_layer_1.mlp.1"], "image"


def swin():
    m = tvm.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 1], num_heads=[2, 2], window_size=[4, 4],
                            stochastic_depth_prob=0.0, num_classes=10)
    return m, IMAGE, ["features.1.0.mlp.1", "features.3.0.mlp.1"], "image"


def maxvit():
    m = tvm.MaxVit(input_size=(32, 32), stem_channels=8, partition_size=2, block_channels=[16, 32],
                   block_layers=[1, 1], head_dim=8, stochastic_depth_prob=0.0, num_classes=10)
    return m, IMAGE, ["blocks.0", "blocks.1"], "image"


class FromEmbeddings(nn.Module):
    """Runs a Hugging Face model from float `inputs_embeds` (N, T, D), as Captum users do; returns logits (N, C)
    (for a causal LM: the logits at the last position)."""

    def __init__(self, hf, last_position):
        super().__init__()
        self.hf, self.last_position = hf, last_position

    def forward(self, x):
        logits = self.hf(inputs_embeds=x).logits
        return logits[:, -1, :] if self.last_position else logits


def _hf(config_class, model_class, layers, last_position=False, embedding_width=HIDDEN, **cfg):
    config = config_class(attn_implementation="eager", **cfg)
    hf = model_class(config)
    return FromEmbeddings(hf, last_position), (TOKENS, embedding_width), [f"hf.{p}" for p in layers], "embeds"


ENCODER = dict(vocab_size=50, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=16, num_labels=3)


def bert():
    from transformers import BertConfig, BertForSequenceClassification
    return _hf(BertConfig, BertForSequenceClassification,
               ["bert.encoder.layer.0.intermediate.intermediate_act_fn",
                "bert.encoder.layer.1.intermediate.intermediate_act_fn"], **ENCODER)


def roberta():
    from transformers import RobertaConfig, RobertaForSequenceClassification
    return _hf(RobertaConfig, RobertaForSequenceClassification,
               ["roberta.encoder.layer.0.intermediate.intermediate_act_fn",
                "roberta.encoder.layer.1.intermediate.intermediate_act_fn"], pad_token_id=1,
               **{**ENCODER, "max_position_embeddings": 20})


def distilbert():
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    return _hf(DistilBertConfig, DistilBertForSequenceClassification,
               ["distilbert.transformer.layer.0.ffn.activation", "distilbert.transformer.layer.1.ffn.activation"],
               vocab_size=50, dim=HIDDEN, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=16,
               num_labels=3)


def albert():
    from transformers import AlbertConfig, AlbertForSequenceClassification
    return _hf(AlbertConfig, AlbertForSequenceClassification,
               ["albert.encoder.embedding_hidden_mapping_in", "albert.pooler_activation"],
               embedding_size=16, embedding_width=16, **ENCODER)


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    return _hf(GPT2Config, GPT2LMHeadModel, ["transformer.h.0.mlp.act", "transformer.h.1.mlp.act"],
               last_position=True, vocab_size=50, n_embd=HIDDEN, n_layer=2, n_head=2, n_positions=16)


def llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    return _hf(LlamaConfig, LlamaForCausalLM, ["model.layers.0.mlp.act_fn", "model.layers.1.mlp.act_fn"],
               last_position=True, vocab_size=50, hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)


# Families whose hooked 4-D layers are channels-last (N, H, W, C): ConvNeXt's and Swin's MLPs. Summing over the
# last two axes ("channel" granularity of (C, H, W)) would mix channels there, so they are attributed per unit.
CHANNELS_LAST = {"convnext", "swin"}

FAMILIES = {f.__name__: f for f in (resnet, resnext, wide_resnet, vgg, squeezenet, densenet, mobilenet_v2,
                                     mobilenet_v3, efficientnet, efficientnet_v2, regnet, shufflenet, mnasnet,
                                     convnext, vit, swin, maxvit, bert, roberta, distilbert, albert, gpt2, llama)}


def build(name, seed):
    """The family's small model with seeded random weights, in eval mode, no in-place ReLU (layer hooks need the
    module outputs intact), random BatchNorm statistics."""
    torch.manual_seed(seed)
    model, shape, layers, kind = FAMILIES[name]()
    for mod in model.modules():
        if isinstance(mod, (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU)) and getattr(mod, "inplace", False):
            mod.inplace = False
        if isinstance(mod, nn.BatchNorm2d) and mod.weight is not None:
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    calibrate_batch_norm(model.eval(), shape, seed)
    return model.eval(), shape, layers, kind


def calibrate_batch_norm(model, shape, seed, count=16):
    """Sets every BatchNorm's running statistics to those of `count` standard normal inputs (the fixture inputs'
    distribution), the rest of the model staying in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batch
        norm.train()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        model(torch.randn(count, *shape, generator=generator))
    for norm in norms:
        norm.eval()

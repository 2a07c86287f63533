"""ImageNet backbones for training (torchvision's files; not colorization models)."""

from ml.weights import WeightFile, register_weights

# DeOldify's pipeline starts its encoder from ImageNet and measures its feature loss with VGG16-bn;
# DDColor's starts from a ConvNeXt (torchvision's ImageNet-1k files; the authors used 22k ones,
# renamed into the encoder by ml.train.ddcolor); BigColor's feature loss uses VGG16 and the
# ResNets rank BigColor's classes.
# torchvision names each file after the first hex digits of its SHA-256, and publishes no more.
for _key, _file in (
    ("resnet18", "resnet18-f37072fd.pth"),
    ("resnet34", "resnet34-b627a593.pth"),
    ("resnet101", "resnet101-63fe2227.pth"),
    ("vgg16-bn", "vgg16_bn-6c64b313.pth"),
    ("vgg16", "vgg16-397923af.pth"),
    ("convnext-tiny", "convnext_tiny-983f1562.pth"),
    ("convnext-large", "convnext_large-ea097f82.pth"),
):
    register_weights(
        WeightFile(
            key=_key,
            filename=_file,
            network=f"torchvision-{_key}",
            licence="BSD-3-Clause (torchvision); trained on ImageNet",
            urls=(f"https://download.pytorch.org/models/{_file}",),
            sha256_prefix=_file.rsplit("-", 1)[1].removesuffix(".pth"),
            purpose="training",
        )
    )

"""The DCGAN networks (Radford et al. 2015) and a WGAN-GP critic, for square images.

Every builder is a plain function that returns a functional ``keras.Model``; the output
shape of each block is checked while the model is built, so a wrong size fails at once
with the block's name instead of deep inside training.

Shapes for the default ``image_size=64`` and ``width=64`` (the paper's ngf = ndf = 64)::

    generator      z (100,) -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3 (tanh)
    discriminator  64x64x3 -> 32x32x64 -> 16x16x128 -> 8x8x256 -> 4x4x512 -> 1 logit

Other sizes (16, 32, 128) add or remove one doubling stage per factor of two; the widest
layer always sits at 4x4. Defaults (Radford et al. 2015, section 3 and 4; PyTorch's DCGAN
tutorial): weights N(0, 0.02), batch normalisation in both networks except the
discriminator's input layer and the generator's output layer, ReLU in the generator,
LeakyReLU(0.2) in the discriminator, tanh output so images lie in [-1, 1].
"""
from __future__ import annotations

import math

import keras
from keras import layers

from ._checks import check_choice, check_image_size, check_positive

#: The image sizes the DCGAN networks are built for (powers of two from 16).
IMAGE_SIZES = (16, 32, 64, 128)
#: The channels an image may have (grey, RGB, RGBA).
CHANNELS = (1, 3, 4)
CRITIC_NORMALIZATIONS = ("layer", None)
DISCRIMINATOR_NORMALIZATIONS = ("batch", "spectral", None)
GENERATOR_UPSAMPLING = ("transposed", "resize")

__all__ = [
    "dcgan_generator",
    "dcgan_discriminator",
    "wgan_critic",
    "conditional_dcgan_generator",
    "conditional_dcgan_discriminator",
    "MirrorSymmetric",
    "CONDITIONINGS",
    "IMAGE_SIZES",
    "CHANNELS",
]


def _check_image_size(image_size):
    return check_image_size("image_size", image_size, allowed=IMAGE_SIZES,
                            reason="a power of two from 16 to 128")


def _check_channels(channels):
    if isinstance(channels, bool) or not isinstance(channels, int) or channels not in CHANNELS:
        raise ValueError(
            f"channels={channels!r} is not supported; use 1 (grey), 3 (RGB) or 4 (RGBA)."
        )
    return channels


def _weight_init(seed=None):
    """N(0, 0.02) for every convolution and dense kernel (Radford et al. 2015, sec. 4)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02, seed=seed)


def _batch_norm(name):
    """Batch norm with gamma ~ N(1, 0.02), beta = 0 (PyTorch DCGAN tutorial's weights_init)."""
    return layers.BatchNormalization(
        momentum=0.9,  # the running averages of PyTorch's default (0.1 there = 1 - 0.9 here)
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
        name=name,
    )


def _check_shape(tensor, expected, block):
    """Fail at build time, naming the block, when a block's output shape is not as planned."""
    actual = tuple(tensor.shape[1:])
    if actual != tuple(expected):
        raise RuntimeError(f"{block} produced shape {actual}; expected {tuple(expected)}.")
    return tensor


@keras.saving.register_keras_serializable(package="ganlib")
class MirrorSymmetric(layers.Layer):
    """Make images left-right symmetric: keep the left half, put its mirror image on the right.

    A prior about the data, not a habit of the GAN literature: a generator ending in this layer
    can only draw symmetric images, so it has half as many pixels to get right. Use it only
    when the training images are symmetric (``ganlib.metrics.mirror_symmetry`` near 1, as the
    procedural sprites of lesson 03 are); most real Pokemon sprites face sideways and are not,
    and faces are only roughly symmetric. For an odd width the middle column is kept as is.
    Input and output: (batch, height, width, channels).
    """

    def call(self, images):
        width = images.shape[2]
        left = images[:, :, : (width + 1) // 2, :]
        mirrored = keras.ops.flip(images[:, :, : width // 2, :], axis=2)
        return keras.ops.concatenate([left, mirrored], axis=2)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def _stages(image_size):
    """Number of stride-2 stages between 4x4 and image_size: log2(image_size) - 2."""
    return int(math.log2(image_size)) - 2


def dcgan_generator(latent_dim: int = 100, image_size: int = 64, channels: int = 3,
                    width: int = 64, name: str = "generator", mirror: bool = False,
                    upsample: str = "transposed") -> keras.Model:
    """The DCGAN generator: z ~ N(0, I) of size ``latent_dim`` -> image in [-1, 1].

    A dense layer projects z to a 4x4 map of ``width * 2**(stages - 1)`` channels (the
    paper's "project and reshape"), then each stage doubles the size with a 4x4 transposed
    convolution of stride 2 and halves the channels; the last one outputs ``channels``
    channels through tanh.

    Args:
        latent_dim: size of z (Radford et al. 2015 use 100).
        image_size: 16, 32, 64 (the paper's size) or 128.
        channels: 1 (grey), 3 (RGB) or 4 (RGBA).
        width: ngf, the channels of the last hidden layer; the paper's 64. Small values
            (16, 32) make CPU runs fast.
        name: the model's name.
        mirror: end with ``MirrorSymmetric``, so that every image is left-right symmetric
            (a prior for symmetric data only; see that layer). False: the paper's network.
        upsample: 'transposed' (the paper: 4x4 transposed convolutions of stride 2) or
            'resize' (nearest-neighbour upsampling by 2, then a 3x3 convolution: Odena,
            Dumoulin & Olah 2016, "Deconvolution and checkerboard artifacts", Distill). A
            4x4 kernel at stride 2 overlaps unevenly, so a transposed convolution must learn
            to cancel a checkerboard pattern; a resize-convolution cannot make one.

    Returns:
        keras.Model with input (latent_dim,) and output (image_size, image_size, channels).
    """
    if not isinstance(mirror, bool):
        raise ValueError(f"mirror={mirror!r} is not allowed; use True or False.")
    upsample = check_choice("upsample", upsample, GENERATOR_UPSAMPLING)
    latent_dim = check_positive("latent_dim", latent_dim, integer=True)
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    width = check_positive("width", width, integer=True)
    stages = _stages(image_size)
    filters = width * 2 ** (stages - 1)

    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(4 * 4 * filters, use_bias=False, kernel_initializer=_weight_init(),
                     name="project")(z)
    x = layers.Reshape((4, 4, filters), name="reshape")(x)
    x = _batch_norm("project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = _check_shape(x, (4, 4, filters), "project")
    size = 4
    for stage in range(1, stages):
        size, filters = size * 2, filters // 2
        x = _upsampling_conv(x, filters, upsample, f"up{stage}", use_bias=False)
        x = _batch_norm(f"up{stage}_bn")(x)
        x = layers.ReLU(name=f"up{stage}_relu")(x)
        x = _check_shape(x, (size, size, filters), f"up{stage}")
    x = _upsampling_conv(x, channels, upsample, "to_image", use_bias=True)
    image = layers.Activation("tanh", name="tanh", dtype="float32")(x)
    _check_shape(image, (image_size, image_size, channels), "to_image")
    if mirror:
        image = MirrorSymmetric(name="mirror", dtype="float32")(image)
    return keras.Model(z, image, name=name)


def _upsampling_conv(x, filters, upsample, name, use_bias):
    """Double the size: a 4x4 transposed convolution of stride 2, or nearest-neighbour
    upsampling followed by a 3x3 convolution (``upsample='resize'``), named ``name``."""
    if upsample == "transposed":
        return layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=use_bias,
                                      kernel_initializer=_weight_init(), name=name)(x)
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    return layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, kernel_initializer=_weight_init(),
                         name=name)(x)


def _downsampling_body(image_size, channels, width, normalization):
    """Shared by the discriminator and the critic: image -> 4x4 features.

    ``normalization`` is 'batch', 'layer', 'spectral' or None. Batch and layer norm are
    never applied to the first layer (Radford et al. 2015: no batch norm on the
    discriminator's input layer); spectral normalisation wraps every convolution.
    """
    stages = _stages(image_size)
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = image
    size, filters = image_size, width
    for stage in range(1, stages + 1):
        size = size // 2
        conv = layers.Conv2D(filters, 4, strides=2, padding="same",
                             use_bias=(stage == 1 or normalization in (None, "spectral")),
                             kernel_initializer=_weight_init(), name=f"down{stage}")
        x = _spectral(conv, normalization)(x)
        if stage > 1 and normalization == "batch":
            x = _batch_norm(f"down{stage}_bn")(x)
        elif stage > 1 and normalization == "layer":
            # Normalise over height, width and channels together, with a scale and offset
            # per channel: the "Layernorm" of Gulrajani et al.'s 64x64 critic.
            x = layers.GroupNormalization(groups=1, epsilon=1e-5, name=f"down{stage}_ln")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"down{stage}_lrelu")(x)
        x = _check_shape(x, (size, size, filters), f"down{stage}")
        filters *= 2
    return image, x


def _spectral(layer, normalization):
    """``layer`` wrapped in spectral normalisation when asked (Miyato et al. 2018): its
    kernel is divided by its largest singular value, estimated by one power iteration per
    training step, so the layer is 1-Lipschitz.

    ``keras.layers.SpectralNormalization`` does this as a projection: in each training call
    it *stores* W / sigma(W) in the kernel and uses it, so the optimiser's gradient does not
    pass through sigma, while Miyato et al. reparametrise (W_SN = W / sigma(W) in the graph,
    gradient through sigma). Both keep every layer 1-Lipschitz after each step; the training
    dynamics differ slightly. (The matrix normalised is the kernel reshaped to
    (-1, filters), as in Miyato et al.'s code, not the convolution operator.)"""
    if normalization != "spectral":
        return layer
    return layers.SpectralNormalization(layer, power_iterations=1, name=f"{layer.name}_sn")


def _head(x, name, normalization=None):
    """A 4x4 valid convolution to one number per image (the DCGAN paper's final layer)."""
    conv = layers.Conv2D(1, 4, padding="valid", kernel_initializer=_weight_init(), name=name)
    x = _spectral(conv, normalization)(x)
    x = _check_shape(x, (1, 1, 1), name)
    return layers.Flatten(name="flatten", dtype="float32")(x)


def dcgan_discriminator(image_size: int = 64, channels: int = 3, width: int = 64,
                        name: str = "discriminator", normalization: str | None = "batch") -> keras.Model:
    """The DCGAN discriminator: image in [-1, 1] -> one logit (sigmoid(logit) = D(x)).

    Each stage halves the size with a 4x4 convolution of stride 2 and doubles the
    channels, starting at ``width``; batch norm after every convolution but the first,
    LeakyReLU(0.2) everywhere; a final 4x4 valid convolution gives the logit. No sigmoid:
    the losses in ``ganlib.train`` work on logits for numerical stability.

    Args:
        image_size: 16, 32, 64 (Radford et al. 2015) or 128.
        channels: 1, 3 or 4.
        width: ndf, the channels of the first layer; the paper's 64.
        name: the model's name.
        normalization: 'batch' (Radford et al. 2015), 'spectral' (every convolution
            spectrally normalised and no batch norm, as the SN-GAN discriminator of Miyato et
            al. 2018; pair it with ``GAN(loss='hinge')``) or None.

    Returns:
        keras.Model with input (image_size, image_size, channels) and output (1,).
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    width = check_positive("width", width, integer=True)
    normalization = check_choice("normalization", normalization, DISCRIMINATOR_NORMALIZATIONS)
    image, x = _downsampling_body(image_size, channels, width, normalization=normalization)
    return keras.Model(image, _head(x, "logit", normalization), name=name)


def wgan_critic(image_size: int = 64, channels: int = 3, width: int = 64,
                normalization: str | None = "layer", name: str = "critic") -> keras.Model:
    """A WGAN-GP critic: the DCGAN discriminator without batch normalisation.

    The gradient penalty is computed per example, which batch norm would break by mixing
    the examples of a batch (Gulrajani et al. 2017, section 4). Their 64x64 critic uses
    layer normalisation instead (normalization='layer', the default here: per image over
    height, width and channels, with a per-channel scale and offset); None uses no
    normalisation at all. The output is an unbounded score, not a logit.

    Args:
        image_size: 16, 32, 64 or 128.
        channels: 1, 3 or 4.
        width: channels of the first layer (64 as in the DCGAN discriminator).
        normalization: 'layer' (Gulrajani et al. 2017, 64x64 models) or None.
        name: the model's name.

    Returns:
        keras.Model with input (image_size, image_size, channels) and output (1,).
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    width = check_positive("width", width, integer=True)
    normalization = check_choice("normalization", normalization, CRITIC_NORMALIZATIONS)
    image, x = _downsampling_body(image_size, channels, width, normalization=normalization)
    return keras.Model(image, _head(x, "score"), name=name)


# --- conditional DCGAN networks (lesson 06; trained by ganlib.conditional.ConditionalGAN) ---

#: How a conditional discriminator sees the label, by concatenation (Mirza & Osindero 2014),
#: projection (Miyato & Koyama 2018) or an auxiliary classifier (Odena et al. 2017, AC-GAN).
CONDITIONINGS = ("concat", "projection", "acgan")


def _check_n_classes(n_classes):
    n_classes = check_positive("n_classes", n_classes, integer=True)
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes!r} must be at least 2 (one class needs no conditioning).")
    return n_classes


def _one_hot(labels, n_classes, name):
    """Integer labels (batch,) -> one-hot rows (batch, n_classes), a built-in serialisable layer."""
    return layers.CategoryEncoding(num_tokens=n_classes, output_mode="one_hot", name=name)(labels)


def conditional_dcgan_generator(latent_dim: int = 100, n_classes: int = 10, image_size: int = 32,
                                channels: int = 1, width: int = 64,
                                name: str = "conditional_generator") -> keras.Model:
    """The conditional DCGAN generator: ``[z, label] -> image``, G(z | y).

    As in Mirza & Osindero 2014 (section 3.2), the label enters as a one-hot vector joined
    to the noise: the DCGAN generator (``dcgan_generator``, nested as the layer ``dcgan``)
    is fed ``concat(z, one_hot(y))``, ``latent_dim + n_classes`` numbers. Its first dense
    layer then adds one learnt 4x4 map per class to the projection of z. The same generator
    serves every conditioning of the discriminator (``conditional_dcgan_discriminator``),
    so a comparison of conditionings changes D only.

    Args:
        latent_dim: size of z (Radford et al. 2015 use 100).
        n_classes: number of classes; labels are integers 0 .. n_classes - 1.
        image_size: 16, 32, 64 or 128 (8x8 data such as scikit-learn's digits: load it at 16).
        channels: 1, 3 or 4.
        width: ngf of the DCGAN generator.
        name: the model's name.

    Returns:
        keras.Model with inputs ``z`` (latent_dim,) float32 and ``label`` () int32, and
        output (image_size, image_size, channels) in [-1, 1].
    """
    latent_dim = check_positive("latent_dim", latent_dim, integer=True)
    n_classes = _check_n_classes(n_classes)
    body = dcgan_generator(latent_dim + n_classes, image_size, channels, width=width, name="dcgan")
    z = keras.Input(shape=(latent_dim,), name="z")
    label = keras.Input(shape=(), dtype="int32", name="label")
    joined = layers.Concatenate(name="z_and_label")([z, _one_hot(label, n_classes, "label_one_hot")])
    joined = _check_shape(joined, (latent_dim + n_classes,), "z_and_label")
    image = body(joined)
    _check_shape(image, (image_size, image_size, channels), "dcgan")
    return keras.Model([z, label], image, name=name)


def conditional_dcgan_discriminator(n_classes: int = 10, image_size: int = 32, channels: int = 1,
                                    width: int = 64, conditioning: str = "projection",
                                    normalization: str | None = "batch",
                                    name: str = "conditional_discriminator") -> keras.Model:
    """A conditional DCGAN discriminator, with the label given to D in one of three ways.

    Every variant shares the DCGAN downsampling body (``features``: stride-2 4x4 convolutions,
    LeakyReLU(0.2), down to a 4x4 map phi(x)); they differ in where the label comes in:

    * ``'concat'`` (Mirza & Osindero 2014): ``[image, label] -> logit``. The one-hot label
      is repeated over the image as ``n_classes`` extra input channels, so the first
      convolution sees pixels and class together (their MLP joined y to x's hidden layer;
      extra channels are the usual form of that for a convolutional D). D must learn any
      link between class and content from scratch.
    * ``'projection'`` (Miyato & Koyama 2018, eq. 3): ``[image, label] -> logit`` with
      ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``: phi(x) is the 4x4 map summed over
      its positions (global sum pooling, as in their networks), psi a linear layer (the
      unconditional "is it real?" score) and ``embed(y)`` a learnt vector per class (the
      layer ``class_embedding``), whose inner product with the features says "does x look
      like class y?". The layers are ``psi``, ``class_embedding`` and ``projection``.
    * ``'acgan'`` (Odena et al. 2017, AC-GAN): ``image -> [logit, class_logits]``. D does
      not see the label; a second head (``class_logits``, a linear layer on the flattened
      4x4 map) classifies the image into the ``n_classes`` classes, and both real and
      generated images are trained to be classified as their label.

    Args:
        n_classes: number of classes (labels 0 .. n_classes - 1).
        image_size: 16, 32, 64 or 128.
        channels: 1, 3 or 4 (the image's channels; 'concat' adds n_classes more inside).
        width: ndf, the channels of the first convolution.
        conditioning: 'concat', 'projection' (default) or 'acgan'.
        normalization: 'batch' (default, Radford et al. 2015: on the 16x16 digits of lesson
            06, with the cross-entropy loss, it gave clearer digits that obeyed the label more
            often than spectral normalisation with the hinge loss for the same CPU time),
            'spectral' (Miyato & Koyama 2018 pair the projection with spectral normalisation of
            every convolution and linear layer; the class embedding is not normalised here)
            or None.
        name: the model's name.

    Returns:
        keras.Model; inputs ``image`` (and ``label`` () int32 for 'concat' and 'projection'),
        outputs one logit (1,) float32 (and ``class_logits`` (n_classes,) for 'acgan').
    """
    n_classes = _check_n_classes(n_classes)
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    width = check_positive("width", width, integer=True)
    conditioning = check_choice("conditioning", conditioning, CONDITIONINGS)
    normalization = check_choice("normalization", normalization, DISCRIMINATOR_NORMALIZATIONS)
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    stages = _stages(image_size)
    feature_shape = (4, 4, width * 2 ** (stages - 1))
    if conditioning == "concat":
        body_in, body_out = _downsampling_body(image_size, channels + n_classes, width, normalization)
        features = keras.Model(body_in, body_out, name="features")
        one_hot = _one_hot(label, n_classes, "label_one_hot")
        planes = layers.Reshape((1, 1, n_classes), name="label_planes")(one_hot)
        planes = layers.UpSampling2D(size=image_size, name="label_repeated")(planes)
        joined = layers.Concatenate(name="image_and_label")([image, planes])
        joined = _check_shape(joined, (image_size, image_size, channels + n_classes), "image_and_label")
        x = _check_shape(features(joined), feature_shape, "features")
        return keras.Model([image, label], _head(x, "logit", normalization), name=name)

    body_in, body_out = _downsampling_body(image_size, channels, width, normalization)
    features = keras.Model(body_in, body_out, name="features")
    x = _check_shape(features(image), feature_shape, "features")
    if conditioning == "acgan":
        logit = _head(x, "logit", normalization)
        flat = layers.Flatten(name="flatten_features")(x)
        dense = layers.Dense(n_classes, kernel_initializer=_weight_init(), name="class_dense")
        class_logits = _spectral(dense, normalization)(flat)
        class_logits = layers.Activation("linear", dtype="float32", name="class_logits")(class_logits)
        _check_shape(class_logits, (n_classes,), "class_logits")
        return keras.Model(image, [logit, class_logits], name=name)

    pooled = layers.GlobalAveragePooling2D(name="average_features")(x)
    # global *sum* pooling, as Miyato & Koyama: the average times the 4x4 = 16 positions
    phi = layers.Rescaling(16.0, name="sum_features")(pooled)
    psi = _spectral(layers.Dense(1, kernel_initializer=_weight_init(), name="psi"), normalization)(phi)
    embedded = layers.Embedding(n_classes, feature_shape[-1], embeddings_initializer=_weight_init(),
                                name="class_embedding")(label)
    projection = layers.Dot(axes=1, name="projection")([embedded, phi])
    logit = layers.Add(name="logit", dtype="float32")([psi, projection])
    _check_shape(logit, (1,), "logit")
    return keras.Model([image, label], logit, name=name)

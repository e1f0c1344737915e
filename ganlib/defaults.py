"""The papers' training hyperparameters, defined once (no TensorFlow import, so the command
line can read them before it loads TensorFlow). ``ganlib.train``'s optimizers, the
command line's defaults, ``ganlib.recipes`` and the benchmark use these names."""

DCGAN_LEARNING_RATE = 2e-4      # Radford et al. 2015, section 4: Adam, beta_1 = 0.5
DCGAN_BETAS = (0.5, 0.999)      # Radford et al. 2015 (beta_2: Adam's default, Kingma & Ba 2015)
WGAN_GP_LEARNING_RATE = 1e-4    # Gulrajani et al. 2017, Algorithm 1
WGAN_GP_BETAS = (0.0, 0.9)      # Gulrajani et al. 2017, Algorithm 1
WGAN_LEARNING_RATE = 5e-5       # Arjovsky et al. 2017, Algorithm 1 (RMSprop)

"""``--generator adapter_example:load CHECKPOINT``: a package's StyleGAN adapted to the stylegan-eval contract."""

import torch
from fake_stylegan_package import TinyStyleGAN  # your package's generator class


class Adapter(torch.nn.Module):
    z_dim, w_dim, num_ws, resolution, img_channels = 16, 16, 4, 16, 3
    noise_shapes = [(16, 16)] * 3  # (H, W) of each noise input, in the order the network uses them

    def __init__(self, path):  # called as load(checkpoint_path, **generator_args)
        super().__init__()
        self.net = TinyStyleGAN()
        self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    def mapping(self, z, c=None):  # z [N, z_dim] -> w [N, w_dim] (or ws [N, num_ws, w_dim])
        return self.net.style(z)

    def synthesis(self, ws, noise=None):  # ws [N, num_ws, w_dim], noise: [N, 1, H, W] maps
        return self.net(ws, noises=noise) * 2 - 1  # the package gives [0, 1]; the contract is [-1, 1]


load = Adapter

"""PyTorch equivalents of the benchmark's graph model rows (resnet_block, unet_small in bench/cases.json),
timed as ../shared/bench/torch_bench.py times its model rows: one optimizer step (Adam, lr 1e-3) on a random
batch, the median of --reps steps after two warm-up steps. Prints {name: {"ms", "samples_per_s"}} like it.

    python3 bench/torch_graphs.py bench/cases.json [--threads N] [--reps R] [--only name,name]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResnetBlock(nn.Module):
    """relu(x + BN(conv3x3(relu(BN(conv3x3(x)))))), global average pooling, a 10-way linear layer."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # Keras's epsilon and momentum 0.99
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(x + self.bn2(self.conv2(y)))
        return self.head(y.mean(dim=(2, 3)))


class UnetSmall(nn.Module):
    """Two levels: 16 and 32 filters down, 64 at the bottom, transposed convolutions up, concatenated skips."""

    def __init__(self, channels):
        super().__init__()
        self.c1 = nn.Conv2d(channels, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bottom = nn.Conv2d(32, 64, 3, padding=1)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.d2 = nn.Conv2d(64, 32, 3, padding=1)
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.d1 = nn.Conv2d(32, 16, 3, padding=1)
        self.mask = nn.Conv2d(16, 1, 1)

    def forward(self, x):
        c1 = F.relu(self.c1(x))
        c2 = F.relu(self.c2(F.max_pool2d(c1, 2)))
        b = F.relu(self.bottom(F.max_pool2d(c2, 2)))
        d2 = F.relu(self.d2(torch.cat([self.up2(b), c2], dim=1)))
        d1 = F.relu(self.d1(torch.cat([self.up1(d2), c1], dim=1)))
        return torch.sigmoid(self.mask(d1))


def time_graph(name, batch, inp, reps):
    height, width, channels = inp
    x = torch.randn(batch, channels, height, width)
    if name == "resnet_block":
        model = ResnetBlock(channels)
        target = torch.randint(0, 10, (batch,))
        loss_of = lambda out: F.cross_entropy(out, target)
    else:
        model = UnetSmall(channels)
        target = torch.randint(0, 2, (batch, 1, height, width)).float()
        loss_of = lambda out: F.binary_cross_entropy(out, target)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step():
        opt.zero_grad()
        loss = loss_of(model(x))
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    t = times[len(times) // 2]
    return {"ms": round(t * 1e3, 3), "samples_per_s": round(batch / t, 1)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    only = set(filter(None, a.only.split(",")))
    result = {}
    for row in json.load(open(a.cases)).get("models", []):
        if row["name"] not in ("resnet_block", "unet_small") or (only and row["name"] not in only):
            continue
        result[row["name"]] = time_graph(row["name"], row["batch"], row["input"], a.reps)
    print(json.dumps(result, indent=1))

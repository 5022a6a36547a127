"""Builds the tiny TorchScript fixture used by the engine tests (run: python3 make_fixture.py).

A 3x16x16 colour CNN with 4 classes and fixed random weights. BatchNorm is included on purpose:
the engine must run TorchScript in eval mode (running statistics), never in training mode.
"""
import torch
import torch.nn as nn

torch.manual_seed(7)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.head(self.features(x))


net = TinyNet()
# Give BatchNorm non-trivial running statistics, then freeze them with eval().
net.train()
with torch.no_grad():
    for _ in range(5):
        net(torch.rand(16, 3, 16, 16))
net.eval()
traced = torch.jit.trace(net, torch.rand(1, 3, 16, 16))
traced.save("model.pt")

# Reference outputs so the Java test can check it runs the same model in eval mode.
x = torch.linspace(0, 1, 3 * 16 * 16).reshape(1, 3, 16, 16)
with torch.no_grad():
    print("reference logits for linspace input:", [round(v, 6) for v in traced(x)[0].tolist()])

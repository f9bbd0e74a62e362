"""The forward/backward example every PyTorch tutorial opens with, with `ttrain` in place of `torch`.

A network of one Linear(28*28, 10) layer and a Sigmoid, one forward pass on a random 1x784
input, an MSE loss against a one-hot target, backward, and one SGD step.

Run it with `python examples/forward_backward.py`.
"""

import ttrain
import ttrain.nn as nn
import ttrain.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return self.sigmoid(self.linear(x))


ttrain.manual_seed(0)
net = Net()
print(net)

input = ttrain.randn(1, 28 * 28)
target = nn.functional.one_hot(ttrain.tensor([3]), num_classes=10).float()  # the digit 3
criterion = nn.MSELoss()
optimizer = optim.SGD(net.parameters(), lr=0.01)

optimizer.zero_grad()
output = net(input)
loss = criterion(output, target)
print("loss:", loss.item())

loss.backward()
print("linear.bias.grad:", net.linear.bias.grad)

weight_before = net.linear.weight.detach().clone()
optimizer.step()
change = net.linear.weight.detach() - weight_before
print("largest weight change:", change.abs().max().item())

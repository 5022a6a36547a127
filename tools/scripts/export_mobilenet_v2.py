#!/usr/bin/python3
"""Writes a torchvision MobileNetV2 (3x224x224, seeded random weights) as a Salient model package,
for measuring a real-sized 224-pixel model: ./salient bench --models DIR.

Usage: /usr/bin/python3 tools/scripts/export_mobilenet_v2.py OUT_DIR [--classes 5]
Needs torch and torchvision (Debian: python3-torch, python3-torchvision). The package is in two
parts at the feature layer (features.pt: MobileNetV2's features, 1280x7x7; head.pt: pooling and
the classifier), so Grad-CAM runs on it too. Its weights mean nothing; its shapes and cost are
MobileNetV2's (3.4 M parameters at 1000 classes, ReLU6, depthwise convolutions, batch norm).
"""
import argparse
import json
import os

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--classes", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(224)
    model = torchvision.models.mobilenet_v2(num_classes=args.classes).eval()
    head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               model.classifier).eval()
    example = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        features = torch.jit.trace(model.features, example)
        classifier = torch.jit.trace(head, features(example))
        difference = (classifier(features(example)) - model(example)).abs().max().item()
    features.save(os.path.join(args.out, "features.pt"))
    classifier.save(os.path.join(args.out, "head.pt"))
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.writelines(f"class{i}\n" for i in range(args.classes))
    manifest = {
        "name": "mobilenet-v2",
        "description": "torchvision MobileNetV2 with seeded random weights, for benchmarks",
        "format": "torchscript",
        "labels": "labels.txt",
        "input": {"channels": 3, "height": 224, "width": 224, "pixel_min": 0.0,
                  "pixel_max": 1.0, "mean": [0.485, 0.456, 0.406],
                  "std": [0.229, 0.224, 0.225]},
        "feature_layer": "features (1280x7x7, after the last 1x1 convolution and ReLU6)",
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}: parts agree with the whole model to {difference:.2e}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Cuts a TorchScript model into features.pt + head.pt at a named value of its graph.

Grad-CAM needs a model in two parts (docs/models.md, "Grad-CAM on your model: a two-part export").
When all you have is a traced or frozen TorchScript file (no Python class, no children to take
apart), this script freezes it (weights become constants of one inlined forward graph), finds the
value you name and writes two modules: features.pt computes the graph up to that value and head.pt
the rest, taking that value as its input. It then loads the written files back and checks that
head(features(x)) equals model(x) on random inputs.

    # list the graph's values with their op and shape for one input of this shape
    python3 split_torchscript.py model.pt --input-shape 1,3,224,224 --list
    # cut at one of them
    python3 split_torchscript.py model.pt --input-shape 1,3,224,224 --at input.37 --out my-model/

Tried with torch 1.13 (Debian's python3-torch); it uses torch.jit.freeze and the TorchScript graph
API only.
"""
import argparse
import os
import sys

import torch


def load_frozen(path):
    """The model's forward graph, inlined, with the weights as constants and numerics untouched."""
    module = torch.jit.load(path, map_location="cpu")
    module.eval()
    # Keeping "training" lets loaders that switch modes (DJL calls module.eval()) find it.
    preserved = ["training"] if module._c.hasattr("training") else []
    frozen = torch.jit.freeze(module, preserved_attrs=preserved, optimize_numerics=False)
    # In-place ops (relu_, add_) would tie the values on either side of a cut together: a cut
    # after add_ but before relu_ would still return the relu'd tensor.
    graph = frozen.graph
    names = [[v.debugName() for v in node.outputs()] for node in graph.nodes()]
    torch._C._jit_pass_remove_mutation(graph)
    nodes = list(graph.nodes())
    if len(nodes) == len(names):
        # The pass puts relu in place of relu_ with a new, numbered output; give it the old name.
        for node, old in zip(nodes, names):
            for value, name in zip(node.outputs(), old):
                if value.debugName() != name and not name.isdigit():
                    value.setDebugName(name)
    return frozen


def model_input(graph):
    """The graph's one tensor input (the first input is the module itself)."""
    inputs = list(graph.inputs())[1:]
    if len(inputs) != 1:
        sys.exit("the model's forward takes %d inputs; this script cuts models with one image input"
                 % len(inputs))
    return inputs[0]


def single_output(graph):
    outputs = list(graph.outputs())
    if len(outputs) != 1 or not isinstance(outputs[0].type(), torch._C.TensorType):
        sys.exit("the model returns %s; this script cuts models that return one logits tensor"
                 % ", ".join(str(o.type()) for o in outputs))
    return outputs[0]


def tensor_values(graph):
    """(value, node) for every tensor a top-level node of the graph computes, in graph order."""
    for node in graph.nodes():
        if node.kind() == "prim::Constant":
            continue
        for value in node.outputs():
            if isinstance(value.type(), torch._C.TensorType):
                yield value, node


def find_value(graph, name):
    for value, _ in tensor_values(graph):
        if value.debugName() == name:
            return value
    sys.exit("no tensor value named %r in the graph; --list shows the names" % name)


def uses_inside(node):
    """Every value node reads, including those read by nodes in its blocks (if, loop)."""
    values = list(node.inputs())
    for block in node.blocks():
        for inner in block.nodes():
            values.extend(uses_inside(inner))
        values.extend(block.outputs())
    return values


def computed_from(graph, start):
    """The unique ids of the values that depend on the value start."""
    reached = {start.unique()}
    for node in graph.nodes():
        if any(v.unique() in reached for v in uses_inside(node)):
            reached.update(v.unique() for v in node.outputs())
    return reached


def ancestors(graph, value):
    """The unique ids of the values that value is computed from, itself included."""
    producers = {}
    for node in graph.nodes():
        for out in node.outputs():
            producers[out.unique()] = node
    seen, stack = set(), [value]
    while stack:
        v = stack.pop()
        if v.unique() in seen:
            continue
        seen.add(v.unique())
        node = producers.get(v.unique())
        if node is not None:
            stack.extend(uses_inside(node))
    return seen


def list_values(path, shape):
    """Prints each tensor value of the frozen graph: name, op kind and shape for one input."""
    graph = load_frozen(path).graph
    # The probe runs a copy that returns every value; a copy renumbers unnamed values, so the
    # names printed are the original graph's, the ones --at looks up.
    named = list(tensor_values(graph))
    probe_graph = graph.copy()
    for value, _ in tensor_values(probe_graph):
        probe_graph.registerOutput(value)
    probe_graph.makeMultiOutputIntoTuple()
    probe_graph.eraseInput(0)  # the module itself: a frozen graph does not read it
    probe = torch._C._create_function_from_graph("probe", probe_graph)
    with torch.no_grad():
        results = probe(torch.rand(shape))[1:]
    after_input = computed_from(graph, model_input(graph))
    print("%-24s %-32s %s" % ("value", "op", "shape"))
    for (value, node), result in zip(named, results):
        if value.unique() in after_input:
            print("%-24s %-32s %s" % (value.debugName(), node.kind(), tuple(result.shape)))


def features_part(path, name):
    module = load_frozen(path)
    graph = module.graph
    single_output(graph)
    cut = find_value(graph, name)
    graph.eraseOutput(0)
    graph.registerOutput(cut)
    torch._C._jit_pass_dce(graph)
    return module


def head_part(path, name):
    module = load_frozen(path)
    graph = module.graph
    single_output(graph)
    x = model_input(graph)
    cut = find_value(graph, name)
    before_cut = ancestors(graph, cut) & computed_from(graph, x)
    cut.replaceAllUsesWith(x)
    torch._C._jit_pass_dce(graph)
    for node in graph.nodes():
        if any(v.unique() in before_cut for v in node.outputs()):
            sys.exit("the graph does not go through %s alone: %s (%s) is computed before it and "
                     "used after it (a skip connection?); cut at a value every path goes through"
                     % (name, node.output().debugName() if node.outputsSize() else "-", node.kind()))
    return module


def check(model_path, features_path, head_path, shape, atol, seed):
    """Loads the written parts back and compares head(features(x)) with model(x)."""
    model = torch.jit.load(model_path, map_location="cpu").eval()
    features = torch.jit.load(features_path, map_location="cpu").eval()
    head = torch.jit.load(head_path, map_location="cpu").eval()
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    with torch.no_grad():
        for _ in range(3):
            x = torch.rand(shape, generator=generator) * 4 - 2
            maps = features(x)
            worst = max(worst, (head(maps) - model(x)).abs().max().item())
    print("features output shape: %s" % (tuple(maps.shape),))
    print("max |head(features(x)) - model(x)| over 3 random inputs: %.3g" % worst)
    if maps.dim() != 4:
        print("warning: the features part returns %d dimensions; Grad-CAM needs maps (N, K, h, w)"
              % maps.dim())
    if worst > atol:
        sys.exit("the parts differ from the model by more than %g" % atol)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the TorchScript file (torch.jit.trace or script output)")
    parser.add_argument("--input-shape", required=True,
                        help="an example input's shape, batch first: 1,3,224,224")
    parser.add_argument("--list", action="store_true",
                        help="print the graph's tensor values (name, op, shape) and stop")
    parser.add_argument("--at", metavar="VALUE", help="the value to cut at (a name from --list)")
    parser.add_argument("--out", default=".", help="the directory for features.pt and head.pt")
    parser.add_argument("--atol", type=float, default=1e-5,
                        help="the largest difference the check accepts (default 1e-5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the check's random inputs")
    args = parser.parse_args()
    shape = tuple(int(s) for s in args.input_shape.split(","))

    if args.list:
        list_values(args.model, shape)
        return
    if not args.at:
        parser.error("give --at VALUE (or --list to see the values)")
    os.makedirs(args.out, exist_ok=True)
    features_path = os.path.join(args.out, "features.pt")
    head_path = os.path.join(args.out, "head.pt")
    features_part(args.model, args.at).save(features_path)
    head_part(args.model, args.at).save(head_path)
    print("wrote %s and %s" % (features_path, head_path))
    check(args.model, features_path, head_path, shape, args.atol, args.seed)


if __name__ == "__main__":
    main()

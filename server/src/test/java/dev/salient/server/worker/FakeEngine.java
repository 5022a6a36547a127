package dev.salient.server.worker;

import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A linear two-class "model" (logits = [sum x, -sum x]) whose calls can be held back, slowed
 * down or made to fail, to watch the worker's scheduling.
 */
final class FakeEngine implements PassEngine {
  final List<Integer> batchSizes = new CopyOnWriteArrayList<>();
  volatile CountDownLatch gate = new CountDownLatch(0);
  volatile boolean failNext;
  /** Each call takes at least this long, once past the gate. */
  volatile long callMillis;
  /** What {@link #bestBatch} reports. */
  volatile int bestBatch = Integer.MAX_VALUE;
  /** Each call on a model named here also takes this long per image, once past the gate. */
  final Map<String, Long> millisPerImage = new ConcurrentHashMap<>();
  /** When set, each call first takes one permit: the test lets calls through one by one. */
  volatile Semaphore permits;
  /** Every call that has passed the gate, in order (recorded before it takes its permit). */
  final List<Call> calls = new CopyOnWriteArrayList<>();

  /** A call: its model and the first pixel of each of its images (to tell jobs apart). */
  record Call(String model, List<Float> firstPixels) {
    int size() {
      return firstPixels.size();
    }
  }

  @Override
  public PassResult run(String modelName, Pass pass) {
    try {
      gate.await(10, TimeUnit.SECONDS);
      calls.add(new Call(modelName,
          pass.images().stream().map(image -> image[0]).toList()));
      Semaphore calledOneByOne = permits;
      if (calledOneByOne != null && !calledOneByOne.tryAcquire(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test let no call through");
      }
      Thread.sleep(callMillis + millisPerImage.getOrDefault(modelName, 0L) * pass.size());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    batchSizes.add(pass.size());
    if (failNext) {
      failNext = false;
      throw new IllegalStateException("injected engine failure");
    }
    List<float[]> logits = new ArrayList<>();
    List<float[]> gradients = new ArrayList<>();
    for (int i = 0; i < pass.size(); i++) {
      float[] x = pass.images().get(i);
      float s = 0;
      for (float v : x) {
        s += v;
      }
      logits.add(new float[] {s, -s});
      if (pass.objective() != null) {
        float[] w = pass.objective().weightsFor(i, logits.get(i));
        float[] g = new float[x.length];
        java.util.Arrays.fill(g, w[0] - w[1]);
        gradients.add(g);
      }
    }
    List<float[]> grads = pass.objective() == null ? null : gradients;
    if (!pass.extras().layerWalk()) {
      return new PassResult(logits, grads);
    }
    // The model as a walk: one linear layer, weights +1 to the first class and -1 to the second.
    List<LayerWalk> walks = new ArrayList<>();
    for (int i = 0; i < pass.size(); i++) {
      int n = pass.images().get(i).length;
      float[] weight = new float[2 * n];
      java.util.Arrays.fill(weight, 0, n, 1f);
      java.util.Arrays.fill(weight, n, 2 * n, -1f);
      walks.add(new LayerWalk(List.of(new LayerWalk.Linear(weight, new float[2], n, 2)),
          List.of(pass.images().get(i), logits.get(i))));
    }
    return new PassResult(logits, grads, null, null, null, null, walks);
  }

  @Override
  public int bestBatch(String modelName) {
    return bestBatch;
  }

  @Override
  public void close() {}

  /**
   * Writes, in {@code dir}, a package named {@code name} of the 1x2x2 input and two classes this
   * engine serves.
   */
  static ModelPackage modelPackage(Path dir, String name) throws Exception {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("model.json"), "{\"name\":\"" + name + "\","
        + "\"format\":\"torchscript\",\"labels\":\"labels.txt\","
        + "\"input\":{\"channels\":1,\"height\":2,\"width\":2}}");
    Files.writeString(dir.resolve("labels.txt"), "up\ndown\n");
    return ModelPackage.read(dir);
  }
}

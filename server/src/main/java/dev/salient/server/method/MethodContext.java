package dev.salient.server.method;

import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Softmax;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.ClassScore;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * What a method run starts from: the model, the image in pixel space, the class to explain, the
 * model's scores on the image, the input gradient of the target's logit at the image (computed in
 * the same pass as the scores, so a method that starts from it saves a pass), how the client
 * wants frames, and the decode budget that images among the parameters (a baseline) are decoded
 * within.
 */
public record MethodContext(
    ModelPackage model,
    float[] image,
    int target,
    float[] logits,
    float[] logitGradient,
    FrameOptions frames,
    DecodeBudget decodeBudget) {

  /** A context whose parameter images are decoded without a budget (tools, tests). */
  public MethodContext(ModelPackage model, float[] image, int target, float[] logits,
      float[] logitGradient, FrameOptions frames) {
    this(model, image, target, logits, logitGradient, frames, DecodeBudget.unlimited());
  }

  /** How many classes frames list, and whether frames carry tensors. */
  public record FrameOptions(int topK, boolean tensors) {}

  /** Softmax probabilities of the original image. */
  public float[] probabilities() {
    return Softmax.of(logits);
  }

  /** The {@code k} best classes of {@code logits}, best first. */
  public List<ClassScore> top(float[] classLogits) {
    return topClasses(model, classLogits, frames.topK());
  }

  /** The score of class {@code index} in {@code classLogits}. */
  public ClassScore score(float[] classLogits, int index) {
    return scoreOf(model, Softmax.of(classLogits), classLogits, index);
  }

  /** The {@code k} best classes of {@code logits}, best first. */
  public static List<ClassScore> topClasses(ModelPackage model, float[] logits, int k) {
    float[] p = Softmax.of(logits);
    List<ClassScore> top = new ArrayList<>();
    IntStream.range(0, logits.length)
        .boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> -logits[i]).thenComparingInt(i -> i))
        .limit(Math.min(k, logits.length))
        .forEach(i -> top.add(scoreOf(model, p, logits, i)));
    return top;
  }

  private static ClassScore scoreOf(ModelPackage model, float[] p, float[] logits, int i) {
    return new ClassScore(i, model.labels().get(i), p[i], logits[i]);
  }
}

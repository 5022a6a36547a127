package dev.salient.server.engine;

import java.util.List;

/**
 * What a {@link Pass} returns, as plain arrays (no native memory escapes the engine).
 *
 * @param logits one array of class scores per image
 * @param gradients one input gradient ({@code C*H*W}, in pixel space) per image, or {@code null}
 *     when the pass was forward only
 */
public record PassResult(List<float[]> logits, List<float[]> gradients) {

  /** Copies the lists. */
  public PassResult {
    logits = List.copyOf(logits);
    gradients = gradients == null ? null : List.copyOf(gradients);
  }

  /** Softmax probabilities of image {@code row}. */
  public float[] probabilities(int row) {
    return Softmax.of(logits.get(row));
  }

  /** The rows {@code [from, to)} of this result, for handing a batch back to its jobs. */
  public PassResult slice(int from, int to) {
    return new PassResult(
        logits.subList(from, to), gradients == null ? null : gradients.subList(from, to));
  }
}

package dev.salient.server.engine;

import java.util.List;

/**
 * What a {@link Pass} returns, as plain arrays (no native memory escapes the engine).
 *
 * @param logits one array of class scores per image
 * @param gradients one input gradient ({@code C*H*W}, in pixel space) per image, or {@code null}
 *     when the pass was forward only
 * @param blurred each input image low-pass filtered, when the pass asked for it, else null
 */
public record PassResult(List<float[]> logits, List<float[]> gradients, List<float[]> blurred) {

  /** Logits and gradients only. */
  public PassResult(List<float[]> logits, List<float[]> gradients) {
    this(logits, gradients, null);
  }

  /** Copies the lists. */
  public PassResult {
    logits = List.copyOf(logits);
    gradients = copy(gradients);
    blurred = copy(blurred);
  }

  private static List<float[]> copy(List<float[]> rows) {
    return rows == null ? null : List.copyOf(rows);
  }

  private static List<float[]> rows(List<float[]> rows, int from, int to) {
    return rows == null ? null : rows.subList(from, to);
  }

  /** Softmax probabilities of image {@code row}. */
  public float[] probabilities(int row) {
    return Softmax.of(logits.get(row));
  }

  /** The rows {@code [from, to)} of this result, for handing a batch back to its jobs. */
  public PassResult slice(int from, int to) {
    return new PassResult(logits.subList(from, to), rows(gradients, from, to),
        rows(blurred, from, to));
  }
}

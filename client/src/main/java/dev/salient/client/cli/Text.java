package dev.salient.client.cli;

import dev.salient.grpc.ClassScore;
import dev.salient.grpc.Tensor;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** Formatting helpers for the CLI's human-readable output. */
final class Text {

  private static final MathContext SIGNIFICANT = new MathContext(6);

  private Text() {}

  /** {@code #7 Sneaker p=0.9812 logit=7.31}. */
  static String score(ClassScore s) {
    return String.format(
        Locale.ROOT,
        "#%d %s  p=%.4f  logit=%s",
        s.getIndex(),
        s.getLabel(),
        s.getProbability(),
        number(s.getLogit()));
  }

  /** {@code #7 Sneaker 0.9812, #5 Sandal 0.0101}. */
  static String scores(List<ClassScore> scores) {
    return scores.stream()
        .map(
            s ->
                String.format(
                    Locale.ROOT, "#%d %s %.4f", s.getIndex(), s.getLabel(), s.getProbability()))
        .collect(Collectors.joining(", "));
  }

  /** A number with at most six significant digits and no trailing zeros. */
  static String number(double v) {
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      return Double.toString(v);
    }
    return new BigDecimal(v).round(SIGNIFICANT).stripTrailingZeros().toPlainString();
  }

  /** {@code name=value} pairs, with numbers shortened. */
  static String values(Map<String, Double> values) {
    return values.entrySet().stream()
        .map(e -> e.getKey() + "=" + number(e.getValue()))
        .collect(Collectors.joining("  "));
  }

  /** {@code [1, 28, 28]}. */
  static String shape(List<Long> shape) {
    return shape.toString();
  }

  /** {@code min -0.1 max 0.8} of a float32 tensor, or empty when it has no data. */
  static String range(Tensor t) {
    FloatBuffer floats =
        t.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    if (!floats.hasRemaining()) {
      return "";
    }
    float min = Float.POSITIVE_INFINITY;
    float max = Float.NEGATIVE_INFINITY;
    while (floats.hasRemaining()) {
      float f = floats.get();
      min = Math.min(min, f);
      max = Math.max(max, f);
    }
    return "min " + number(min) + "  max " + number(max);
  }
}

package dev.salient.client.cli;

import dev.salient.grpc.Target;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Parses {@code --target}: a class index ({@code 3}), a rank ({@code top:1}) or a label. */
public final class TargetSpec {

  private static final String RANK_PREFIX = "top:";

  private TargetSpec() {}

  /** The target that {@code text} names; throws {@link IllegalArgumentException} with a reason. */
  public static Target parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("target is empty: give a class index, top:K or a label");
    }
    if (isDigits(text)) {
      return Target.newBuilder().setClassIndex(parseInt(text, "class index")).build();
    }
    if (text.startsWith("-") && isDigits(text.substring(1))) {
      throw new IllegalArgumentException("class index must be 0 or more, got " + text);
    }
    if (text.startsWith(RANK_PREFIX)) {
      String rank = text.substring(RANK_PREFIX.length());
      if (!isDigits(rank) || parseInt(rank, "rank") < 1) {
        throw new IllegalArgumentException(
            "rank must be a whole number from 1 (top:1 is the predicted class), got '"
                + text
                + "'");
      }
      return Target.newBuilder().setRank(parseInt(rank, "rank")).build();
    }
    return Target.newBuilder().setLabel(text).build();
  }

  private static boolean isDigits(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
  }

  private static int parseInt(String digits, String what) {
    try {
      return Integer.parseInt(digits);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + " is too large: " + digits);
    }
  }

  /** Picocli converter: a bad target is a usage error. */
  static final class Converter implements ITypeConverter<Target> {
    @Override
    public Target convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}

package dev.salient.server.method;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;

/**
 * One parameter of a method, declared once: its name, what it means, its default and the values
 * it accepts. Requests are parsed and DescribeModel describes the method from this declaration
 * alone.
 *
 * @param <T> the parsed value's type
 */
public final class Parameter<T> {

  /** The kind of value, as DescribeModel reports it. */
  public enum Kind {
    /** A whole number in [{@link #min()}, {@link #max()}]. */
    INTEGER,
    /** A real number in [{@link #min()}, {@link #max()}]. */
    NUMBER,
    /** One of {@link #choices()}, case-insensitive. */
    CHOICE,
    /** Text in a format {@link #accepted()} describes. */
    TEXT
  }

  private final String name;
  private final String description;
  private final Kind kind;
  private final T defaultValue;
  private final String accepted;
  private final double min;
  private final double max;
  private final List<String> choices;
  private final Function<String, T> parser;
  private final Function<T, String> formatter;

  private Parameter(String name, String description, Kind kind, T defaultValue, String accepted,
      double min, double max, List<String> choices, Function<String, T> parser,
      Function<T, String> formatter) {
    this.name = Objects.requireNonNull(name);
    this.description = Objects.requireNonNull(description);
    this.kind = kind;
    this.defaultValue = Objects.requireNonNull(defaultValue);
    this.accepted = accepted;
    this.min = min;
    this.max = max;
    this.choices = List.copyOf(choices);
    this.parser = parser;
    this.formatter = formatter;
    T reparsed;
    try {
      reparsed = parser.apply(formatter.apply(defaultValue));
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("parameter " + name + ": its default "
          + formatter.apply(defaultValue) + " is not " + accepted, e);
    }
    if (!formatter.apply(reparsed).equals(formatter.apply(defaultValue))) {
      throw new IllegalStateException("parameter " + name + ": its default does not read back");
    }
  }

  /** An integer in {@code [min, max]}. */
  public static Parameter<Integer> integer(String name, String description, int defaultValue,
      int min, int max) {
    String accepted = min == Integer.MIN_VALUE && max == Integer.MAX_VALUE ? "an integer"
        : "an integer in [" + min + ", " + max + "]";
    return new Parameter<>(name, description, Kind.INTEGER, defaultValue, accepted, min, max,
        List.of(), text -> {
          int value = Integer.parseInt(text.trim());
          if (value < min || value > max) {
            throw new IllegalArgumentException();
          }
          return value;
        }, value -> Integer.toString(value));
  }

  /** A real number in {@code [min, max]}. */
  public static Parameter<Double> number(String name, String description, double defaultValue,
      double min, double max) {
    return new Parameter<>(name, description, Kind.NUMBER, defaultValue,
        "a number in [" + formatNumber(min) + ", " + formatNumber(max) + "]", min, max, List.of(), text -> {
          double value = Double.parseDouble(text.trim());
          if (!(value >= min && value <= max)) {
            throw new IllegalArgumentException();
          }
          return value;
        }, Parameter::formatNumber);
  }

  /** One constant of an enum, written in lower case (e.g. {@code max_abs}). */
  public static <E extends Enum<E>> Parameter<E> choice(String name, String description,
      E defaultValue) {
    E[] constants = defaultValue.getDeclaringClass().getEnumConstants();
    List<String> names = Arrays.stream(constants).map(Parameter::lowerCase).toList();
    return new Parameter<>(name, description, Kind.CHOICE, defaultValue, "one of " + names, 0, 0,
        names, text -> {
          for (E e : constants) {
            if (e.name().equalsIgnoreCase(text.trim())) {
              return e;
            }
          }
          throw new IllegalArgumentException();
        }, Parameter::lowerCase);
  }

  /** True or false. */
  public static Parameter<Boolean> flag(String name, String description, boolean defaultValue) {
    return new Parameter<>(name, description, Kind.CHOICE, defaultValue, "one of [true, false]",
        0, 0, List.of("true", "false"), text -> switch (text.trim().toLowerCase(Locale.ROOT)) {
          case "true" -> true;
          case "false" -> false;
          default -> throw new IllegalArgumentException();
        }, value -> Boolean.toString(value));
  }

  /**
   * A value written in a format of its own.
   *
   * @param accepted the format in words, for messages and DescribeModel
   * @param parser reads a value; throws {@link IllegalArgumentException} (its message, if any,
   *     says why) for text that is not one
   * @param formatter writes a value so that {@code parser} reads it back
   */
  public static <T> Parameter<T> text(String name, String description, T defaultValue,
      String accepted, Function<String, T> parser, Function<T, String> formatter) {
    return new Parameter<>(name, description, Kind.TEXT, defaultValue, accepted, 0, 0, List.of(),
        parser, formatter);
  }

  /** The name in requests. */
  public String name() {
    return name;
  }

  /** What the parameter does. */
  public String description() {
    return description;
  }

  /** The kind of value. */
  public Kind kind() {
    return kind;
  }

  /** The value when a request does not set it. */
  public T defaultValue() {
    return defaultValue;
  }

  /** The default as a request would write it. */
  public String defaultText() {
    return formatter.apply(defaultValue);
  }

  /** The values accepted, in words (e.g. "an integer in [1, 4096]"). */
  public String accepted() {
    return accepted;
  }

  /** The smallest value of an {@link Kind#INTEGER} or {@link Kind#NUMBER}; else 0. */
  public double min() {
    return min;
  }

  /** The largest value of an {@link Kind#INTEGER} or {@link Kind#NUMBER}; else 0. */
  public double max() {
    return max;
  }

  /** The values of a {@link Kind#CHOICE}; else empty. */
  public List<String> choices() {
    return choices;
  }

  /**
   * Reads a request's text.
   *
   * @throws IllegalArgumentException when the text is not an accepted value
   */
  public T parse(String text) {
    return parser.apply(text);
  }

  /** Writes a value as a request would. */
  public String format(T value) {
    return formatter.apply(value);
  }

  /** A number as requests write it: integral values without a fraction ("1", not "1.0"). */
  static String formatNumber(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
  }

  private static String lowerCase(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

  @Override
  public String toString() {
    return name;
  }
}

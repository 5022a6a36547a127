package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.explanation.ColourScale;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What a method's result carries: each summary value and each map, with its type, shape and
 * meaning, so that a client knows them without reading the method's code. DescribeModel sends it
 * ({@code MethodInfo.result}) and {@code ResultSchemaTest} holds every method's actual results to
 * it. A name may hold a placeholder in angle brackets, e.g. {@code weight_<class>}, standing for
 * a run of letters and digits.
 *
 * @param values the result's values, in the order a client would list them
 * @param maps the result's maps
 */
public record ResultSchema(List<Field> values, List<Field> maps) {

  /** Copies the lists. */
  public ResultSchema {
    values = List.copyOf(values);
    maps = List.copyOf(maps);
  }

  /** What a value holds. Values travel as doubles; the type says which doubles occur. */
  public enum ValueType {
    /** A probability, in [0, 1]. */
    PROBABILITY,
    /** A share of something, in [0, 1]. */
    FRACTION,
    /** 1 for yes, 0 for no. */
    FLAG,
    /** A whole number, 0 or more. */
    COUNT,
    /** A class index of the model, in [0, classes). */
    CLASS_INDEX,
    /** Any finite real number. */
    NUMBER;

    /** The name on the wire, e.g. "class_index". */
    public String wireName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Whether {@code v} is a value of this type for a model of {@code classes} classes. */
    public boolean admits(double v, int classes) {
      return switch (this) {
        case PROBABILITY, FRACTION -> v >= 0 && v <= 1;
        case FLAG -> v == 0 || v == 1;
        case COUNT -> v >= 0 && v == Math.rint(v) && !Double.isInfinite(v);
        case CLASS_INDEX -> v >= 0 && v < classes && v == Math.rint(v);
        case NUMBER -> Double.isFinite(v);
      };
    }
  }

  /** The shape of a map, in the model's input resolution. */
  public enum MapShape {
    /** One value per pixel: [H, W]. */
    PIXELS("[H, W]"),
    /** One value per channel and pixel, as the input image: [C, H, W]. */
    CHANNELS("[C, H, W]"),
    /** [H, W], or [C, H, W] when the method's reduction parameter is "signed". */
    PIXELS_OR_CHANNELS("[H, W], or [C, H, W] with reduction=signed");

    private final String rule;

    MapShape(String rule) {
      this.rule = rule;
    }

    /** The rule in words, e.g. "[C, H, W]" (C, H and W from the model's input_shape). */
    public String rule() {
      return rule;
    }

    /** Whether {@code shape} follows the rule for a model of input {@code spec}. */
    public boolean admits(long[] shape, InputSpec spec) {
      long[] pixels = {spec.height(), spec.width()};
      boolean isPixels = Arrays.equals(shape, pixels);
      boolean isChannels = Arrays.equals(shape, spec.shape());
      return switch (this) {
        case PIXELS -> isPixels;
        case CHANNELS -> isChannels;
        case PIXELS_OR_CHANNELS -> isPixels || isChannels;
      };
    }
  }

  /**
   * One value or map of a result.
   *
   * @param name its name in the result; may hold a placeholder such as {@code <class>}
   * @param type for a value, its {@link ValueType}'s wire name; for a map "float32"
   * @param shape "scalar" for a value; a map's {@link MapShape#rule()}
   * @param meaning what it is, in a sentence
   * @param when empty when every result carries it; otherwise when it is there
   * @param colourScale a map's overlay colour scale, null for a value
   */
  public record Field(String name, String type, String shape, String meaning, String when,
      ColourScale colourScale) {

    /** Whether every result carries it. */
    public boolean required() {
      return when.isEmpty();
    }

    /** Whether {@code actual} is this field's name, its placeholders filled in. */
    public boolean matches(String actual) {
      return pattern().matcher(actual).matches();
    }

    private Pattern pattern() {
      StringBuilder regex = new StringBuilder();
      for (String part : name.split("(?=<)|(?<=>)")) {
        regex.append(part.startsWith("<") && part.endsWith(">") ? "[A-Za-z0-9]+"
            : Pattern.quote(part));
      }
      return Pattern.compile(regex.toString());
    }

    /** The value type of a value field. */
    public ValueType valueType() {
      return ValueType.valueOf(type.toUpperCase(java.util.Locale.ROOT));
    }

    /** The shape rule of a map field. */
    public MapShape mapShape() {
      for (MapShape s : MapShape.values()) {
        if (s.rule().equals(shape)) {
          return s;
        }
      }
      throw new IllegalStateException("map " + name + " has no shape rule: " + shape);
    }
  }

  /** The field of the value called {@code actual}, if the schema has one. */
  public Optional<Field> value(String actual) {
    return values.stream().filter(f -> f.matches(actual)).findFirst();
  }

  /** The field of the map called {@code actual}, if the schema has one. */
  public Optional<Field> map(String actual) {
    return maps.stream().filter(f -> f.matches(actual)).findFirst();
  }

  /** A schema built field by field. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds a {@link ResultSchema}; names must be unique. */
  public static final class Builder {
    private final List<Field> values = new ArrayList<>();
    private final List<Field> maps = new ArrayList<>();

    private Builder() {}

    /** A value every result carries. */
    public Builder value(String name, ValueType type, String meaning) {
      return value(name, type, meaning, "");
    }

    /** A value only some results carry: {@code when} says which. */
    public Builder value(String name, ValueType type, String meaning, String when) {
      values.add(new Field(name, type.wireName(), "scalar", meaning, when, null));
      return this;
    }

    /** A map every result carries. */
    public Builder map(String name, MapShape shape, ColourScale scale, String meaning) {
      return map(name, shape, scale, meaning, "");
    }

    /** A map only some results carry: {@code when} says which. */
    public Builder map(String name, MapShape shape, ColourScale scale, String meaning,
        String when) {
      maps.add(new Field(name, "float32", shape.rule(), meaning, when, scale));
      return this;
    }

    /** The schema; fails on a name declared twice. */
    public ResultSchema build() {
      for (List<Field> fields : List.of(values, maps)) {
        if (fields.stream().map(Field::name).distinct().count() != fields.size()) {
          throw new IllegalStateException("a result schema names a field twice: " + fields);
        }
      }
      return new ResultSchema(values, maps);
    }
  }
}

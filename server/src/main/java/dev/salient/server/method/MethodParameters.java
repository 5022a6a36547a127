package dev.salient.server.method;

import dev.salient.server.util.SalientException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads a request's string parameters against a method's declared parameters: unknown names and
 * unparseable or out-of-range values are {@link SalientException.InvalidArgument} naming the
 * parameter and what it accepts.
 */
public final class MethodParameters {
  private final String method;
  private final Map<String, String> raw;
  private final Map<String, ParameterSpec> specs;

  /** Checks that every given name is one of {@code specs}. */
  public MethodParameters(String method, Map<String, String> raw, List<ParameterSpec> specs) {
    this.method = method;
    this.raw = Map.copyOf(raw);
    this.specs = specs.stream().collect(Collectors.toMap(ParameterSpec::name, s -> s));
    for (String name : raw.keySet()) {
      if (!this.specs.containsKey(name)) {
        throw new SalientException.InvalidArgument(
            "method " + method + " has no parameter \"" + name + "\"; its parameters are "
                + (specs.isEmpty() ? "none" : this.specs.keySet().stream().sorted().toList()));
      }
    }
  }

  /** The value of {@code name}, or its default. */
  public String string(String name) {
    ParameterSpec spec = spec(name);
    return raw.getOrDefault(name, spec.defaultValue());
  }

  /** An enum value, written in lower case in requests (e.g. {@code max_abs}). */
  public <E extends Enum<E>> E choice(String name, Class<E> type) {
    String value = string(name).trim();
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(value)) {
        return e;
      }
    }
    throw invalid(name, value, "one of " + Arrays.stream(type.getEnumConstants())
        .map(e -> e.name().toLowerCase(Locale.ROOT)).toList());
  }

  /** A number in {@code [min, max]}. */
  public double number(String name, double min, double max) {
    String value = string(name).trim();
    double d;
    try {
      d = Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw invalid(name, value, "a number in [" + min + ", " + max + "]");
    }
    if (!(d >= min && d <= max)) {
      throw invalid(name, value, "a number in [" + min + ", " + max + "]");
    }
    return d;
  }

  /** An integer in {@code [min, max]}. */
  public int integer(String name, int min, int max) {
    String value = string(name).trim();
    int i;
    try {
      i = Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw invalid(name, value, "an integer in [" + min + ", " + max + "]");
    }
    if (i < min || i > max) {
      throw invalid(name, value, "an integer in [" + min + ", " + max + "]");
    }
    return i;
  }

  private ParameterSpec spec(String name) {
    ParameterSpec spec = specs.get(name);
    if (spec == null) {
      throw new IllegalArgumentException(method + " reads undeclared parameter " + name);
    }
    return spec;
  }

  private SalientException.InvalidArgument invalid(String name, String value, String accepted) {
    return new SalientException.InvalidArgument(
        "method " + method + ": parameter " + name + "=\"" + value + "\" is invalid; use "
            + accepted);
  }
}

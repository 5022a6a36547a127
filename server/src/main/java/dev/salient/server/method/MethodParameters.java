package dev.salient.server.method;

import dev.salient.server.util.SalientException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request's parameters read against a method's declared {@link Parameter}s, defaults filled in.
 * Unknown names and values a parameter does not accept are {@link
 * SalientException.InvalidArgument} naming the parameter and what it accepts.
 */
public final class MethodParameters {
  private final String method;
  private final Map<Parameter<?>, Object> values;

  private MethodParameters(String method, Map<Parameter<?>, Object> values) {
    this.method = method;
    this.values = values;
  }

  /**
   * Reads {@code raw} against {@code declared}.
   *
   * @throws SalientException.InvalidArgument for an unknown name or a value not accepted
   */
  public static MethodParameters parse(String method, Map<String, String> raw,
      List<Parameter<?>> declared) {
    Map<String, Parameter<?>> byName = new HashMap<>();
    declared.forEach(p -> byName.put(p.name(), p));
    for (String name : raw.keySet()) {
      if (!byName.containsKey(name)) {
        throw new SalientException.InvalidArgument(
            "method " + method + " has no parameter \"" + name + "\"; its parameters are "
                + (declared.isEmpty() ? "none" : byName.keySet().stream().sorted().toList()));
      }
    }
    Map<Parameter<?>, Object> values = new LinkedHashMap<>();
    for (Parameter<?> p : declared) {
      String text = raw.get(p.name());
      if (text == null) {
        values.put(p, p.defaultValue());
        continue;
      }
      try {
        values.put(p, p.parse(text));
      } catch (IllegalArgumentException e) {
        String reason = e instanceof NumberFormatException || e.getMessage() == null ? ""
            : " (" + e.getMessage() + ")";
        throw invalid(method, p, text, reason, p.accepted());
      }
    }
    return new MethodParameters(method, values);
  }

  /** The value of {@code parameter}, or its default. */
  @SuppressWarnings("unchecked")
  public <T> T get(Parameter<T> parameter) {
    if (!values.containsKey(parameter)) {
      throw new IllegalArgumentException(method + " reads undeclared parameter " + parameter);
    }
    return (T) values.get(parameter);
  }

  /** Every parameter in effect, defaults filled in, in declaration order, as requests write them. */
  public Map<String, String> effective() {
    Map<String, String> m = new LinkedHashMap<>();
    values.keySet().forEach(p -> m.put(p.name(), formatted(p)));
    return m;
  }

  /**
   * The error for a value that {@code parameter} accepts on its own but not with the others (e.g.
   * a range whose maximum is below its minimum).
   */
  public SalientException.InvalidArgument invalid(Parameter<?> parameter, String accepted) {
    return invalid(method, parameter, formatted(parameter), "", accepted);
  }

  private <T> String formatted(Parameter<T> parameter) {
    return parameter.format(get(parameter));
  }

  private static SalientException.InvalidArgument invalid(String method, Parameter<?> parameter,
      String text, String reason, String accepted) {
    return new SalientException.InvalidArgument("method " + method + ": parameter "
        + parameter.name() + "=\"" + text + "\" is invalid" + reason + "; use " + accepted);
  }
}

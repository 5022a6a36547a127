package dev.salient.client.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A server address given as {@code HOST:PORT} ({@code [v6-address]:PORT} for IPv6). */
public record ServerAddress(String host, int port) {

  /** Parses {@code HOST:PORT}; throws {@link IllegalArgumentException} with a reason. */
  public static ServerAddress parse(String text) {
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException("expected HOST:PORT, got '" + text + "'");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException("write an IPv6 address in brackets: [" + host + "]:PORT");
    }
    String portText = text.substring(colon + 1);
    if (host.isEmpty() || !portText.chars().allMatch(Character::isDigit) || portText.length() > 5) {
      throw new IllegalArgumentException("expected HOST:PORT, got '" + text + "'");
    }
    int port = Integer.parseInt(portText);
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be 1 to 65535, got " + port);
    }
    return new ServerAddress(host, port);
  }

  /** The address as the user would type it. */
  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  /** Picocli converter: a bad address is a usage error. */
  static final class Converter implements ITypeConverter<ServerAddress> {
    @Override
    public ServerAddress convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}

package dev.salient.server.http;

import com.typesafe.config.Config;

/**
 * Where the HTTP/JSON API and the web viewer are served ({@code salient.http.port}).
 *
 * @param host the address, the gRPC server's
 * @param port the port; 0 picks a free one
 * @param enabled whether anything is served
 * @param required whether a port that cannot be bound stops the server (a port set on purpose),
 *     or only turns the HTTP API off with a warning (auto's 8080)
 */
public record HttpSettings(String host, int port, boolean enabled, boolean required) {
  /** The port auto takes when the gRPC port is a fixed one. */
  public static final int DEFAULT_PORT = 8080;

  /**
   * The settings of {@code config}: {@code salient.http.port} is auto (8080, or a free port
   * when {@code salient.port} is 0 as in tests), off, or a port number.
   *
   * @throws IllegalArgumentException naming the setting and what it accepts
   */
  public static HttpSettings create(Config config) {
    String host = config.getString("salient.host");
    String setting = config.hasPath("salient.http.port")
        ? config.getString("salient.http.port").trim() : "auto";
    if (setting.equalsIgnoreCase("off")) {
      return new HttpSettings(host, 0, false, false);
    }
    if (setting.equalsIgnoreCase("auto")) {
      boolean freePort = config.getInt("salient.port") == 0;
      return new HttpSettings(host, freePort ? 0 : DEFAULT_PORT, true, false);
    }
    int port;
    try {
      port = Integer.parseInt(setting);
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("salient.http.port must be auto, off or a port number "
          + "in 0..65535, got \"" + setting + "\"");
    }
    return new HttpSettings(host, port, true, true);
  }
}

package dev.salient.server.util;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The server's version, as Maven built it, for results that say what produced them. */
public final class ServerVersion {
  private static final String VERSION = read();

  private ServerVersion() {}

  /** The version, e.g. "0.1.0-SNAPSHOT". */
  public static String get() {
    return VERSION;
  }

  private static String read() {
    try (InputStream in = ServerVersion.class.getResourceAsStream(
        "/dev/salient/server/version.properties")) {
      if (in == null) {
        throw new IllegalStateException("version.properties is missing from the server's jar");
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

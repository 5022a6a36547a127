package dev.salient.server.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tokens of {@code salient.auth.tokens-file}, read at start and again by {@link #reload()}
 * whenever the file's modification time or size has changed. A version that cannot be read or
 * parsed is reported once and the tokens read before stay in force. Thread-safe.
 */
public final class TokenFile {
  /** The configuration key of the file, named in every error. */
  public static final String KEY = "salient.auth.tokens-file";

  private static final Logger log = LoggerFactory.getLogger(TokenFile.class);

  private final Path path;
  private volatile Tokens tokens;
  /** The modification time and size last read (or tried); guarded by this. */
  private Version seen;

  private record Version(long modifiedMillis, long size) {}

  private TokenFile(Path path, Tokens tokens, Version seen) {
    this.path = path;
    this.tokens = tokens;
    this.seen = seen;
  }

  /**
   * Reads {@code path}.
   *
   * @throws IllegalArgumentException naming {@link #KEY}, the file and the problem
   */
  public static TokenFile load(Path path) {
    try {
      Version version = version(path);
      return new TokenFile(path, read(path), version);
    } catch (IOException e) {
      throw new IllegalArgumentException(KEY + ": cannot read " + path + " ("
          + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
    }
  }

  /** The file. */
  public Path path() {
    return path;
  }

  /** The tokens now in force. */
  public Tokens tokens() {
    return tokens;
  }

  /** The client whose token is {@code token}, by the tokens now in force. */
  public Optional<Tokens.Client> find(String token) {
    return tokens.find(token);
  }

  /**
   * Reads the file again if it has changed since last read; logs once per change: the new count
   * at INFO, or at WARN why the new version is not used.
   */
  public synchronized void reload() {
    Version version;
    try {
      version = version(path);
    } catch (IOException e) {
      if (seen != null) {
        log.warn("{}: cannot read {} ({}); keeping the {} tokens read before", KEY, path,
            e.toString(), tokens.size());
        seen = null;
      }
      return;
    }
    if (version.equals(seen)) {
      return;
    }
    seen = version;
    try {
      tokens = read(path);
      log.info("{}: reloaded {}, {} tokens", KEY, path, tokens.size());
    } catch (IOException | IllegalArgumentException e) {
      log.warn("{}: {}; keeping the {} tokens read before", KEY,
          e instanceof IOException ? "cannot read " + path + " (" + e + ")" : e.getMessage(),
          tokens.size());
    }
  }

  private static Version version(Path path) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
    return new Version(attributes.lastModifiedTime().toMillis(), attributes.size());
  }

  private static Tokens read(Path path) throws IOException {
    return Tokens.parse(Files.readString(path, StandardCharsets.UTF_8), KEY + ": " + path);
  }
}

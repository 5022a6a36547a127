package dev.salient.server.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The clients a tokens file lets in, each by the SHA-256 hash of its token. A line reads
 * {@code NAME sha256:HEX} and may add {@code models=a,b} to allow only those models; {@code #}
 * starts a comment. The tokens themselves are never stored. Immutable.
 */
public final class Tokens {
  /** The prefix of a hash in the file. */
  public static final String SHA256 = "sha256:";
  /** The option of a line that allows only some models. */
  public static final String MODELS = "models=";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@-]{1,64}");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One client of the file: its name, its token's hash, and the models it may use. */
  public record Client(String name, byte[] hash, Set<String> models) {
    /** Copies the models. */
    public Client {
      models = Set.copyOf(models);
    }

    /** Whether the client may use {@code model}: every model when its line names none. */
    public boolean mayUse(String model) {
      return models.isEmpty() || models.contains(model);
    }
  }

  private final List<Client> clients;

  private Tokens(List<Client> clients) {
    this.clients = List.copyOf(clients);
  }

  /**
   * Parses a tokens file's text; {@code source} (the file) prefixes every error with the line.
   *
   * @throws IllegalArgumentException naming the line and what is wrong with it
   */
  public static Tokens parse(String text, String source) {
    List<Client> clients = new ArrayList<>();
    Set<String> names = new HashSet<>();
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].replaceFirst("#.*", "").trim();
      if (line.isEmpty()) {
        continue;
      }
      String where = source + " line " + (i + 1) + ": ";
      String[] fields = line.split("\\s+");
      if (fields.length < 2 || fields.length > 3) {
        throw new IllegalArgumentException(where + "expected NAME sha256:HEX [models=a,b], got \""
            + line + "\" (./salient token NAME prints such a line)");
      }
      String name = fields[0];
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(where + "the name \"" + name + "\" may only hold "
            + "letters, digits and . _ @ - (at most 64)");
      }
      if (!names.add(name)) {
        throw new IllegalArgumentException(where + "the name " + name + " is used twice");
      }
      String hash = fields[1];
      if (!hash.startsWith(SHA256) || !HEX.matcher(hash.substring(SHA256.length())).matches()) {
        throw new IllegalArgumentException(where + "expected the token's hash as sha256: and 64 "
            + "lower-case hex digits, got \"" + hash + "\" (never the token itself)");
      }
      Set<String> models = new LinkedHashSet<>();
      if (fields.length == 3) {
        if (!fields[2].startsWith(MODELS) || fields[2].length() == MODELS.length()) {
          throw new IllegalArgumentException(where + "expected models=NAME[,NAME...], got \""
              + fields[2] + "\"");
        }
        models.addAll(List.of(fields[2].substring(MODELS.length()).split(",")));
        models.remove("");
      }
      clients.add(new Client(name,
          HexFormat.of().parseHex(hash.substring(SHA256.length())), models));
    }
    return new Tokens(clients);
  }

  /** How many clients the file names. */
  public int size() {
    return clients.size();
  }

  /**
   * The client whose token is {@code token}. Every client's hash is compared, each in constant
   * time, so the time taken does not tell how much of a hash matched, or which client did.
   */
  public Optional<Client> find(String token) {
    byte[] hash = sha256(token);
    Client found = null;
    for (Client c : clients) {
      if (MessageDigest.isEqual(c.hash(), hash)) {
        found = c;
      }
    }
    return Optional.ofNullable(found);
  }

  /** A new random token: 32 bytes from {@link SecureRandom}, base64url without padding. */
  public static String mint() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** The tokens-file form of {@code token}'s hash: {@code sha256:} and its hex digest. */
  public static String hash(String token) {
    return SHA256 + HexFormat.of().formatHex(sha256(token));
  }

  private static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}

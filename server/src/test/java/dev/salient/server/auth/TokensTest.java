package dev.salient.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokens file: its lines, the lookup by hash, and reloading a changed file. */
class TokensTest {
  private static final String TOKEN = Tokens.mint();

  @Test
  void aLineNamesTheClientOfItsTokensHash() {
    Tokens tokens = Tokens.parse("# operators\n\nalice " + Tokens.hash(TOKEN) + "  # laptop\n",
        "tokens");

    assertEquals(Optional.of("alice"), tokens.find(TOKEN).map(Tokens.Client::name));
    assertEquals(Optional.empty(), tokens.find(TOKEN + "x"));
    assertTrue(tokens.find(TOKEN).get().mayUse("any-model"));
  }

  @Test
  void modelsLimitWhatATokenMayUse() {
    Tokens.Client alice = Tokens.parse("alice " + Tokens.hash(TOKEN) + " models=a,b\n", "tokens")
        .find(TOKEN).orElseThrow();

    assertEquals(Set.of("a", "b"), alice.models());
    assertFalse(alice.mayUse("c"));
  }

  @Test
  void aTokenInPlaceOfItsHashIsRefusedNamingTheLine() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> Tokens.parse("# clients\nalice " + TOKEN + "\n", "tokens")).getMessage();

    assertTrue(message.startsWith("tokens line 2: expected the token's hash as sha256:"),
        message);
  }

  @Test
  void aNameUsedTwiceIsRefused() {
    String line = "alice " + Tokens.hash(TOKEN) + "\n";

    String message = assertThrows(IllegalArgumentException.class,
        () -> Tokens.parse(line + line, "tokens")).getMessage();

    assertEquals("tokens line 2: the name alice is used twice", message);
  }

  @Test
  void mintedTokensDiffer() {
    assertNotEquals(Tokens.mint(), Tokens.mint());
    assertEquals(43, Tokens.mint().length());
  }

  @Test
  void aBrokenNewVersionOfTheFileKeepsTheTokensReadBefore(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("tokens");
    Files.writeString(file, "alice " + Tokens.hash(TOKEN) + "\n");
    TokenFile tokens = TokenFile.load(file);

    Files.writeString(file, "alice " + TOKEN + "\n");
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(10)));
    tokens.reload();

    assertEquals(Optional.of("alice"), tokens.find(TOKEN).map(Tokens.Client::name));
  }

  @Test
  void aChangedFileIsReadAgain(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("tokens");
    Files.writeString(file, "alice " + Tokens.hash(TOKEN) + "\n");
    TokenFile tokens = TokenFile.load(file);

    Files.writeString(file, "bob " + Tokens.hash(TOKEN) + "\n");
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(10)));
    tokens.reload();

    assertEquals(Optional.of("bob"), tokens.find(TOKEN).map(Tokens.Client::name));
  }

  @Test
  void aMissingFileStopsTheStartNamingItsKey(@TempDir Path dir) {
    String message = assertThrows(IllegalArgumentException.class,
        () -> TokenFile.load(dir.resolve("none"))).getMessage();

    assertTrue(message.startsWith("salient.auth.tokens-file: cannot read " + dir.resolve("none")),
        message);
  }
}

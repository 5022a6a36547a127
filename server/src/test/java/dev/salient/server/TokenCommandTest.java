package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.auth.Tokens;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code ./salient token NAME}: the printed line lets the printed token in. */
class TokenCommandTest {

  @Test
  void thePrintedLineLetsThePrintedTokenInWithItsModels() {
    StringWriter out = new StringWriter();
    CommandLine command = new CommandLine(new TokenCommand()).setOut(new PrintWriter(out));

    int exit = command.execute("alice", "--models", "resnet18,fashion-mnist");

    assertEquals(0, exit);
    String[] lines = out.toString().split("\n");
    String token = lines[0].substring(lines[0].lastIndexOf(' ') + 1);
    Optional<Tokens.Client> alice = Tokens.parse(lines[2], "printed").find(token);
    assertEquals(Optional.of("alice"), alice.map(Tokens.Client::name));
    assertEquals(Set.of("resnet18", "fashion-mnist"), alice.get().models());
  }

  @Test
  void aNameWithASpaceIsRefused() {
    StringWriter err = new StringWriter();
    CommandLine command = new CommandLine(new TokenCommand()).setErr(new PrintWriter(err));

    int exit = command.execute("alice smith");

    assertEquals(2, exit);
  }
}

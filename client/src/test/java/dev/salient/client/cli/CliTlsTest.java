package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.client.FakeServer;
import io.grpc.netty.shaded.io.netty.handler.ssl.JdkSslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** --tls, --ca, --cert and --key against a real TLS server on loopback. */
class CliTlsTest {

  // The server module's fixtures (make_certificates.sh); tests run in the client module's folder.
  private static final Path FIXTURES = Path.of("../server/src/test/resources/tls");

  private FakeServer server;

  record CliRun(int code, String out, String err) {}

  private static String fixture(String name) {
    return FIXTURES.resolve(name).toString();
  }

  private static CliRun cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = new CommandLine(new SalientCli());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int code = cmd.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  private void startServer(boolean requireClientCertificates) throws Exception {
    SSLContext context = ((JdkSslContext) SslContextBuilder
        .forServer(FIXTURES.resolve("server.pem").toFile(), FIXTURES.resolve("server.key").toFile())
        .trustManager(FIXTURES.resolve("ca.pem").toFile())
        .sslProvider(SslProvider.JDK)
        .build()).context();
    server = FakeServer.startWithTls(context, requireClientCertificates);
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void caTrustsTheServersCertificate() throws Exception {
    startServer(false);

    CliRun run = cli("models", "--server", server.address(), "--ca", fixture("ca.pem"));

    assertEquals(0, run.code(), run.err());
  }

  @Test
  void tlsWithTheJvmsTrustStoreRefusesTheTestCaAndSaysWhy() throws Exception {
    startServer(false);

    CliRun run = cli("models", "--server", server.address(), "--tls");

    assertEquals(1, run.code());
    assertTrue(run.err().startsWith("error: TLS with the server at " + server.address()),
        run.err());
  }

  @Test
  void certAndKeyAnswerAServerThatRequiresClientCertificates() throws Exception {
    startServer(true);

    CliRun run = cli("models", "--server", server.address(), "--ca", fixture("ca.pem"),
        "--cert", fixture("client.pem"), "--key", fixture("client.key"));

    assertEquals(0, run.code(), run.err());
  }

  @Test
  void withoutACertificateAServerThatRequiresOneRefusesTheClient() throws Exception {
    startServer(true);

    CliRun run = cli("models", "--server", server.address(), "--ca", fixture("ca.pem"));

    assertEquals(1, run.code(), run.err());
    assertTrue(run.err().startsWith("error: TLS with the server at " + server.address()),
        run.err());
  }

  @Test
  void aPlaintextClientOfATlsServerIsToldToConnectWithTls() throws Exception {
    startServer(false);

    CliRun run = cli("models", "--server", server.address());

    assertEquals(1, run.code(), run.err());
    assertTrue(run.err().startsWith("error: the server at " + server.address()
        + " closed the connection without an answer"), run.err());
    assertTrue(run.err().contains("If it speaks TLS, connect with --tls"), run.err());
  }

  @Test
  void certWithoutKeyIsAUsageError() {
    CliRun run = cli("models", "--cert", fixture("client.pem"));

    assertEquals(2, run.code());
    assertTrue(run.err().contains("--cert and --key go together"), run.err());
  }
}

package dev.salient.client.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.client.SalientClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import javax.net.ssl.SSLException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.slf4j.LoggerFactory;

/** One CLI run's actor system and client, and the translation of their failures for the user. */
final class ClientSession implements AutoCloseable {

  // Bounded so the JVM exits promptly even when the server hangs up badly.
  private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(5);

  // grpc-java logs through java.util.logging; the CLI reports failures itself, so only SEVERE
  // gets through. A static reference, because JUL holds its loggers weakly.
  private static final java.util.logging.Logger GRPC_LOG =
      java.util.logging.Logger.getLogger("io.grpc");

  static {
    GRPC_LOG.setLevel(Level.SEVERE);
    // Start logback before the actor system's threads log, or SLF4J warns that it replays them.
    LoggerFactory.getILoggerFactory();
  }

  private final ServerAddress address;
  private final boolean tls;
  private final ActorSystem<Void> system;
  private final SalientClient client;

  private ClientSession(ServerAddress address, int maxMessageBytes, ClientTls tls,
      Optional<String> token) {
    this.address = address;
    this.tls = tls.enabled();
    Config config =
        ConfigFactory.parseResources(ClientSession.class, "/salient-cli.conf")
            .withFallback(ConfigFactory.load())
            .resolve();
    this.system = ActorSystem.create(Behaviors.empty(), "salient-cli", config);
    try {
      SslContext ssl = tls.nettyContext();
      GrpcClientSettings settings =
          GrpcClientSettings.connectToServiceAt(address.host(), address.port(), system)
              .withTls(tls.enabled())
              .withChannelBuilderOverrides(b -> {
                b.maxInboundMessageSize(maxMessageBytes);
                // Applied after Pekko gRPC's own TLS setup, so it replaces that context.
                return ssl == null ? b : b.sslContext(ssl);
              });
      this.client = SalientClient.create(
          token.map(t -> SalientClient.withToken(settings, t)).orElse(settings), system);
    } catch (RuntimeException e) {
      system.terminate();
      throw e;
    }
  }

  /**
   * Starts an actor system and connects to {@code address} with {@code tls}, taking messages up
   * to {@code maxMessageBytes} and sending {@code token} (if any) as a bearer token with every
   * call; fails if its host is unknown.
   */
  static ClientSession open(ServerAddress address, int maxMessageBytes, ClientTls tls,
      Optional<String> token) {
    try {
      InetAddress.getByName(address.host());
    } catch (UnknownHostException e) {
      throw new CliFailure(
          String.format(
              "cannot resolve the server host %s (%s); check --server HOST:PORT",
              address.host(), address));
    }
    return new ClientSession(address, maxMessageBytes, tls, token);
  }

  /** The client, valid until {@link #close()}. */
  SalientClient client() {
    return client;
  }

  /** The actor system streams of this run are materialised on, valid until {@link #close()}. */
  ActorSystem<Void> system() {
    return system;
  }

  /** Waits for {@code stage}; a gRPC failure comes out as a status or a connection failure. */
  <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliFailure("interrupted");
    } catch (ExecutionException e) {
      throw translate(e.getCause());
    }
  }

  private RuntimeException translate(Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof StatusRuntimeException s) {
      if (isTlsFailure(s)) {
        return tlsFailure(s);
      }
      if (!tls && isClosedWithoutAnswer(s)) {
        return plaintextToTls(s);
      }
      return isConnectFailure(s) ? connectFailure(s) : s;
    }
    if (t instanceof RuntimeException r) {
      return r;
    }
    return new CliFailure(String.valueOf(t.getMessage()), t);
  }

  private static boolean isConnectFailure(StatusRuntimeException e) {
    if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
      return false;
    }
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof ConnectException
          || t instanceof UnknownHostException
          || t instanceof UnresolvedAddressException) {
        return true;
      }
    }
    return false;
  }

  private static boolean isTlsFailure(StatusRuntimeException e) {
    if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
      return false;
    }
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof SSLException) {
        return true;
      }
    }
    return false;
  }

  /**
   * What a plaintext client sees from a server that speaks TLS: the server drops the bytes that
   * are no TLS handshake and closes the connection, and grpc-java knows no reason.
   */
  private static boolean isClosedWithoutAnswer(StatusRuntimeException e) {
    String description = e.getStatus().getDescription();
    return e.getStatus().getCode() == Status.Code.UNAVAILABLE && description != null
        && description.contains("Network closed for unknown reason");
  }

  private CliFailure plaintextToTls(StatusRuntimeException e) {
    return new CliFailure(String.format(
        "the server at %s closed the connection without an answer (%s). If it speaks TLS,"
            + " connect with --tls (a certificate from a public CA) or --ca FILE.",
        address, e.getStatus().getDescription()), e);
  }

  private CliFailure tlsFailure(StatusRuntimeException e) {
    Throwable root = e;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    return new CliFailure(
        String.format(
            "TLS with the server at %s failed (%s). Does --ca name the CA of its certificate, "
                + "and does the server want a client certificate (--cert, --key)?",
            address, root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage()),
        e);
  }

  private CliFailure connectFailure(StatusRuntimeException e) {
    Throwable root = e;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    String reason = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    // Netty prefixes the OS message with the syscall ("finishConnect(..) failed: ...").
    reason = reason.substring(reason.lastIndexOf(": ") + 1).trim();
    return new CliFailure(
        String.format(
            "cannot connect to a Salient server at %s (%s). Is it running? Start one with"
                + " ./salient serve, or pass --server HOST:PORT.",
            address, reason),
        e);
  }

  /** Closes the client and terminates the actor system, each within a bounded time. */
  @Override
  public void close() {
    try {
      client.close();
    } finally {
      system.terminate();
      try {
        system
            .getWhenTerminated()
            .toCompletableFuture()
            .get(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        // Leaving anyway: main() exits the JVM after this.
      }
    }
  }
}

package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README and the guides in {@code docs/}: the README stays a short index, every relative
 * link and picture resolves (anchors included), and every RPC of the contract is documented.
 */
class DocumentationTest {

  private static final int README_MAX_LINES = 300;

  /** {@code [text](target)} and {@code ![alt](target)}: the target, up to a space or ')'. */
  private static final Pattern INLINE_LINK = Pattern.compile("\\]\\(\\s*<?([^)\\s>]+)>?[^)]*\\)");
  /** {@code [label]: target} reference definitions. */
  private static final Pattern REFERENCE_LINK =
      Pattern.compile("^\\s{0,3}\\[[^\\]]+\\]:\\s*<?(\\S+?)>?(\\s.*)?$");
  /** HTML {@code <img src="...">} and {@code <a href="...">}. */
  private static final Pattern HTML_LINK =
      Pattern.compile("<(?:img|a)\\b[^>]*?\\b(?:src|href)\\s*=\\s*\"([^\"]+)\"",
          Pattern.CASE_INSENSITIVE);
  private static final Pattern HTML_ANCHOR =
      Pattern.compile("<a\\b[^>]*?\\b(?:id|name)\\s*=\\s*\"([^\"]+)\"", Pattern.CASE_INSENSITIVE);
  private static final Pattern HEADING = Pattern.compile("^\\s{0,3}(#{1,6})\\s+(.*?)\\s*#*\\s*$");
  private static final Pattern FENCE = Pattern.compile("^\\s{0,3}(```|~~~)");
  private static final Pattern CODE_SPAN = Pattern.compile("(`+)(.+?)\\1");
  private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:");
  private static final Pattern RPC = Pattern.compile("\\brpc\\s+(\\w+)\\s*\\(");

  private static final Path ROOT = projectRoot();

  /** The project root: the first directory up from here with pom.xml, README.md and proto/. */
  private static Path projectRoot() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("pom.xml"))
          && Files.isRegularFile(dir.resolve("README.md"))
          && Files.isDirectory(dir.resolve("proto"))) {
        return dir;
      }
    }
    throw new IllegalStateException(
        "no directory above " + Path.of("").toAbsolutePath() + " holds pom.xml, README.md and proto/");
  }

  @Test
  void theReadmeIsAShortIndexOfAtMost300Lines() throws IOException {
    int lines = Files.readAllLines(ROOT.resolve("README.md"), StandardCharsets.UTF_8).size();
    assertTrue(lines <= README_MAX_LINES,
        "README.md has " + lines + " lines; keep it under " + README_MAX_LINES
            + " and move the details to a guide in docs/");
  }

  @Test
  void theReadmeShowsTheTestCommandThatCiRuns() throws IOException {
    String readme = Files.readString(ROOT.resolve("README.md"), StandardCharsets.UTF_8);
    assertTrue(readme.contains("mvn -B verify"),
        "README.md must show the test command `mvn -B verify` (.ci/run runs the README's command)");
  }

  @Test
  void everyRelativeLinkAndPictureInTheDocsPointsToAnExistingFile() {
    List<String> broken = new ArrayList<>();
    for (Path page : markdownPages()) {
      for (String link : relativeLinks(page)) {
        String path = pathOf(link);
        if (!path.isEmpty() && !Files.exists(resolve(page, path))) {
          broken.add(ROOT.relativize(page) + ": " + link);
        }
      }
    }
    assertTrue(broken.isEmpty(), "links to files that do not exist:\n  " + String.join("\n  ", broken));
  }

  @Test
  void everyAnchorLinkInTheDocsPointsToAHeadingOfItsPage() {
    List<String> broken = new ArrayList<>();
    for (Path page : markdownPages()) {
      for (String link : relativeLinks(page)) {
        int hash = link.indexOf('#');
        if (hash < 0) {
          continue;
        }
        String path = pathOf(link);
        Path target = path.isEmpty() ? page : resolve(page, path);
        if (Files.isDirectory(target)) {
          target = target.resolve("README.md");
        }
        if (!Files.isRegularFile(target) || !target.toString().endsWith(".md")) {
          continue; // a missing file is the other test's failure; other files have no headings
        }
        String anchor = decode(link.substring(hash + 1));
        if (!anchorsOf(target).contains(anchor)) {
          broken.add(ROOT.relativize(page) + ": " + link + " (" + ROOT.relativize(target)
              + " has no heading with that slug)");
        }
      }
    }
    assertTrue(broken.isEmpty(), "links to headings that do not exist:\n  " + String.join("\n  ", broken));
  }

  @Test
  void everyRpcOfTheProtoFilesIsMentionedInCodeInTheGuides() {
    Set<String> mentioned = new TreeSet<>();
    for (Path page : markdownPages()) {
      if (page.startsWith(ROOT.resolve("docs"))) {
        Matcher code = CODE_SPAN.matcher(read(page));
        while (code.find()) {
          mentioned.addAll(List.of(code.group(2).split("[^A-Za-z0-9_]+")));
        }
      }
    }
    Set<String> missing = new TreeSet<>();
    Set<String> rpcs = rpcs();
    assertTrue(!rpcs.isEmpty(), "no `rpc Name(` found in proto/");
    for (String rpc : rpcs) {
      if (!mentioned.contains(rpc)) {
        missing.add(rpc);
      }
    }
    assertTrue(missing.isEmpty(),
        "RPCs of proto/ that no page of docs/ names in code font (`Name`): " + missing);
  }

  /** README.md and every page under docs/. */
  private static List<Path> markdownPages() {
    List<Path> pages = new ArrayList<>();
    pages.add(ROOT.resolve("README.md"));
    try (Stream<Path> docs = Files.walk(ROOT.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return pages;
  }

  /** The rpc names of every .proto file under proto/ (build output left out). */
  private static Set<String> rpcs() {
    Set<String> names = new TreeSet<>();
    try (Stream<Path> files = Files.walk(ROOT.resolve("proto"))) {
      files.filter(p -> p.toString().endsWith(".proto"))
          .filter(p -> !ROOT.resolve("proto").relativize(p).startsWith("target"))
          .forEach(p -> {
            Matcher m = RPC.matcher(read(p));
            while (m.find()) {
              names.add(m.group(1));
            }
          });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return names;
  }

  /** The page's link and picture targets that are not URLs, outside code blocks and spans. */
  private static List<String> relativeLinks(Path page) {
    List<String> links = new ArrayList<>();
    for (String line : proseLines(page)) {
      String prose = CODE_SPAN.matcher(line).replaceAll("");
      for (Pattern p : List.of(INLINE_LINK, REFERENCE_LINK, HTML_LINK)) {
        Matcher m = p.matcher(prose);
        while (m.find()) {
          String target = m.group(1);
          if (!SCHEME.matcher(target).find() && !target.startsWith("//")) {
            links.add(target);
          }
        }
      }
    }
    return links;
  }

  /** The lines of a page outside fenced code blocks. */
  private static List<String> proseLines(Path page) {
    List<String> prose = new ArrayList<>();
    String fence = null;
    for (String line : read(page).split("\n", -1)) {
      Matcher f = FENCE.matcher(line);
      if (fence == null && f.find()) {
        fence = f.group(1);
      } else if (fence != null && line.strip().startsWith(fence)) {
        fence = null;
      } else if (fence == null) {
        prose.add(line);
      }
    }
    return prose;
  }

  /**
   * The anchors GitHub gives a page's headings: lower case, punctuation other than '-' and '_'
   * dropped, spaces turned into '-', a repeated slug numbered -1, -2, ...; and HTML ids.
   */
  static Set<String> anchorsOf(Path page) {
    Set<String> anchors = new LinkedHashSet<>();
    for (String line : proseLines(page)) {
      Matcher h = HEADING.matcher(line);
      if (h.matches()) {
        String base = slug(h.group(2));
        String anchor = base;
        for (int n = 1; anchors.contains(anchor); n++) {
          anchor = base + "-" + n;
        }
        anchors.add(anchor);
      }
      Matcher a = HTML_ANCHOR.matcher(line);
      while (a.find()) {
        anchors.add(a.group(1));
      }
    }
    return anchors;
  }

  /** GitHub's slug of a heading's text. */
  static String slug(String heading) {
    String text = heading
        .replaceAll("!?\\[([^\\]]*)\\]\\([^)]*\\)", "$1") // links and pictures: their text
        .replaceAll("<[^>]+>", "") // HTML tags
        .toLowerCase(Locale.ROOT);
    StringBuilder slug = new StringBuilder();
    text.codePoints().forEach(c -> {
      if (Character.isLetterOrDigit(c) || c == '-' || c == '_') {
        slug.appendCodePoint(c);
      } else if (c == ' ') {
        slug.append('-');
      }
    });
    return slug.toString();
  }

  /** The file part of a link, percent-decoded; empty for a link to an anchor of its own page. */
  private static String pathOf(String link) {
    String path = link;
    int cut = indexOfAny(path, '#', '?');
    if (cut >= 0) {
      path = path.substring(0, cut);
    }
    return decode(path);
  }

  private static Path resolve(Path page, String path) {
    return path.startsWith("/")
        ? ROOT.resolve(path.substring(1)).normalize()
        : page.getParent().resolve(path).normalize();
  }

  private static int indexOfAny(String s, char a, char b) {
    int i = s.indexOf(a);
    int j = s.indexOf(b);
    return i < 0 ? j : j < 0 ? i : Math.min(i, j);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

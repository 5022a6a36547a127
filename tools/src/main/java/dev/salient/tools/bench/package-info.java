/** The benchmarks behind {@code ./salient bench}: ratios against baselines measured in the same run. */
package dev.salient.tools.bench;

/** The trainer behind {@code ./salient train}: the built-in default model from Fashion-MNIST. */
package dev.salient.tools.train;

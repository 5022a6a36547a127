/** The soak behind {@code ./salient soak}: many mixed requests, statuses counted, memory watched. */
package dev.salient.tools.soak;

/** Bootstrap of the Salient server: settings, start-up and the serve command. */
package dev.salient.server;

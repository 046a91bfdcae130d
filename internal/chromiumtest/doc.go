// Package chromiumtest drives a headless Chromium from tests through the
// DevTools protocol: open a page, read its DOM by evaluating expressions,
// record every request the page makes (Network.requestWillBeSent) and take
// screenshots at a given width. Tests skip, saying why, where no Chromium
// is installed (Debian's package is "chromium"; .ci/run installs it).
package chromiumtest

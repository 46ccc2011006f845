// The reader's time zone (IANA name) for the server to show times in: a plain cookie, read on the next page.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("medtap_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "medtap_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=strict";
    }
  } catch (e) { /* no Intl: the server's default zone stays */ }
})();

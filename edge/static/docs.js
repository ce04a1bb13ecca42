// Starts Swagger UI on /docs. A file of its own, not an inline <script>, because the page is
// served with Content-Security-Policy "script-src 'self'".
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  // BaseLayout has no top bar, so no box for loading some other document into this page.
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  displayRequestDuration: true,
  // The default validator badge is an image from a public server: nothing here leaves the edge.
  validatorUrl: "none",
  // Never take the document's URL or settings from the query string (a crafted link would
  // otherwise show someone else's document under this origin).
  queryConfigEnabled: false,
  // A token given to "Authorize" lives in this page only, never in localStorage.
  persistAuthorization: false,
});

// /api/v1/docs: Swagger UI (static/vendor/swagger-ui/) over the app's own OpenAPI document.
// validatorUrl null: the default would load a badge image from swagger.io (and the page's CSP refuses it).
(function () {
  var root = document.getElementById("api-docs");
  if (!root || !window.SwaggerUIBundle) return;
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    docExpansion: "list",
    tryItOutEnabled: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();

// Starts Swagger UI on the app's own OpenAPI document (kept out of the HTML: the CSP forbids inline script).
window.ui = window.SwaggerUIBundle({ url: new URL("openapi.json", document.baseURI).href, dom_id: "#swagger-ui", deepLinking: true });

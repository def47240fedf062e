// Starts Swagger UI on the app's own OpenAPI document (kept out of the HTML: the CSP forbids inline script).
window.ui = window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });

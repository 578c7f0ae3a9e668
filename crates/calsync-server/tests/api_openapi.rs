//! The OpenAPI document a client generator reads: valid OpenAPI 3, complete, and true —
//! every operation it lists is one the server answers.

mod support;

use reqwest::Method;
use serde_json::{Map, Value};
use support::{Reply, TestApp};

async fn document(app: &TestApp) -> Value {
    let reply = app.send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").starts_with("application/json"), "{}", reply.header("content-type"));
    reply.json
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// `(method, path template, operation)` of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if METHODS.contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    out
}

/// The path with every `{parameter}` replaced by a fresh UUID.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |i| open + i + 1);
        out.push_str(&uuid::Uuid::now_v7().to_string());
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// The router's own "I have no such route" answer, as opposed to a handler's 404.
fn is_router_fallback(reply: &Reply) -> bool {
    reply.status == 405
        || (reply.status == 404 && reply.json["detail"].as_str().is_some_and(|d| d.starts_with("no such route")))
}

/// Sends `method` to `path`, with a JSON body where one is expected; reads the body unless
/// it is an endless event stream.
async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Reply {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
        request = request.header("Content-Type", "application/json").body("{}");
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    if response.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream")) {
        return Reply { status: response.status().as_u16(), headers: response.headers().clone(), json: Value::Null };
    }
    if response.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/plain")) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let _ = response.text().await;
        return Reply { status, headers, json: Value::Null };
    }
    Reply::read(response).await
}

/// Follows a local `$ref` (`#/components/schemas/Event`) in the document.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_well_formed_openapi_3() {
    let app = TestApp::sqlite().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "openapi: {}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "calsync");
    assert!(doc["info"]["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer", "{}", doc["components"]);

    let ops = operations(&doc);
    assert!(ops.len() >= 19, "only {} operations", ops.len());
    let mut operation_ids = std::collections::HashSet::new();
    for (method, path, op) in &ops {
        let what = format!("{method} {path}");
        assert!(path.starts_with('/'), "{what}");
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{what} has no operationId"));
        assert!(operation_ids.insert(id.to_owned()), "{what}: operationId {id} is used twice");
        let responses = op["responses"].as_object().cloned().unwrap_or_else(Map::new);
        assert!(!responses.is_empty(), "{what} documents no response");
        for status in responses.keys() {
            assert!(
                status == "default" || status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s)),
                "{what}: {status}"
            );
        }
        // Every {parameter} of the template is declared as a required path parameter.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
            assert!(
                params.iter().any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true),
                "{what}: path parameter {name} is not declared"
            );
        }
        for scheme in
            op["security"].as_array().into_iter().flatten().filter_map(Value::as_object).flat_map(|s| s.keys())
        {
            assert!(
                doc["components"]["securitySchemes"].get(scheme).is_some(),
                "{what}: unknown security scheme {scheme}"
            );
        }
    }

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        assert!(resolve(&doc, &reference).is_some(), "$ref {reference} points nowhere");
    }
}

#[tokio::test]
async fn every_documented_operation_is_answered_by_the_server() {
    let app = TestApp::sqlite().await;
    let token = app.user("ada").await;

    // What the router says when it has no route, so the check below means something.
    let nowhere = call(&app, "get", "/api/v1/nowhere", Some(&token)).await;
    assert!(is_router_fallback(&nowhere), "{nowhere:?}");
    nowhere.assert_status_problem(404);
    let wrong_method = call(&app, "delete", "/api/v1/changes", Some(&token)).await;
    assert!(is_router_fallback(&wrong_method), "{wrong_method:?}");
    wrong_method.assert_status_problem(405);

    let doc = document(&app).await;
    for (method, template, _) in operations(&doc) {
        let path = concrete(&template);
        let reply = call(&app, &method, &path, Some(&token)).await;
        assert!(
            !is_router_fallback(&reply),
            "{method} {template} is documented but not routed: {} {}",
            reply.status,
            reply.json
        );
        assert!(reply.status < 500, "{method} {path}: {} {}", reply.status, reply.json);
    }
}

#[tokio::test]
async fn operations_that_declare_bearer_security_refuse_anonymous_callers() {
    let app = TestApp::sqlite().await;
    let doc = document(&app).await;
    for (method, template, op) in operations(&doc) {
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        let reply = call(&app, &method, &concrete(&template), None).await;
        if secured {
            assert_eq!(
                reply.status, 401,
                "{method} {template} declares security but answers {}: {}",
                reply.status, reply.json
            );
        } else {
            // Open operations answer without a token (the OAuth callback refuses a request
            // without its parameters, but not for lack of a token).
            assert!(
                reply.status != 401 && reply.status < 500,
                "{method} {template} is open but answers {}: {}",
                reply.status,
                reply.json
            );
        }
    }
}

#[tokio::test]
async fn the_document_lists_every_route_the_service_promises() {
    let app = TestApp::sqlite().await;
    let doc = document(&app).await;
    let documented: Vec<(String, String)> = operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let promised = [
        ("post", "/api/v1/events"),
        ("get", "/api/v1/events/{id}"),
        ("put", "/api/v1/events/{id}"),
        ("patch", "/api/v1/events/{id}"),
        ("delete", "/api/v1/events/{id}"),
        ("post", "/api/v1/calendars"),
        ("get", "/api/v1/calendars"),
        ("get", "/api/v1/calendars/{id}"),
        ("put", "/api/v1/calendars/{id}"),
        ("delete", "/api/v1/calendars/{id}"),
        ("get", "/api/v1/calendars/{id}/events"),
        ("get", "/api/v1/calendars/{id}/fullcalendar"),
        ("get", "/api/v1/changes"),
        ("get", "/api/v1/changes/stream"),
        ("post", "/api/v1/admin/users"),
        ("get", "/api/v1/me"),
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/api/v1/openapi.json"),
    ];
    for (method, path) in promised {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is missing from the OpenAPI document; it has {documented:?}"
        );
    }
}

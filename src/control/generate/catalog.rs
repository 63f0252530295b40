//! The synthetic estate: which APIs and stages exist, how each logs, and the vocabulary of
//! requests (routes, user agents, statuses) the generator draws from.

use crate::transaction::ApiKind;

/// Access-log format a stage is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// The recommended format (docs/architecture.md; `apigw-stream enable` sets it).
    Recommended,
    ConsoleJson,
    ConsoleClf,
    ConsoleCsv,
    ConsoleXml,
    /// The WebSocket JSON lines seen in the wild (console-style keys plus eventType/connectionId).
    WebsocketJson,
}

/// One API stage that logs to one log group.
#[derive(Debug, Clone)]
pub struct Stage {
    pub kind: ApiKind,
    pub api_id: &'static str,
    pub stage: &'static str,
    pub format: LineFormat,
    pub log_group: &'static str,
    /// Relative share of the traffic.
    pub weight: u32,
    pub routes: &'static [Route],
}

impl Stage {
    pub fn domain(&self, region: &str) -> String {
        format!("{}.execute-api.{region}.amazonaws.com", self.api_id)
    }

    /// The subscription filter name this project gives the stage's log group.
    pub fn filter_name(&self) -> String {
        crate::decode::normalize::FilterName::format(self.kind, self.api_id, self.stage)
    }

    /// `$context.path` carries the stage prefix on execute-api domains, except for HTTP APIs'
    /// `$default` stage.
    pub fn stage_prefix(&self) -> &'static str {
        if self.stage == "$default" {
            ""
        } else {
            self.stage
        }
    }
}

/// A route: method weight table plus a path template whose `{...}` parts are filled with ids.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub template: &'static str,
    pub methods: &'static [&'static str],
    pub weight: u32,
    /// A static file (what the static-file filter should drop).
    pub is_static: bool,
}

const fn r(template: &'static str, methods: &'static [&'static str], weight: u32) -> Route {
    Route {
        template,
        methods,
        weight,
        is_static: false,
    }
}

const fn s(template: &'static str, weight: u32) -> Route {
    Route {
        template,
        methods: &["GET"],
        weight,
        is_static: true,
    }
}

const READ: &[&str] = &["GET", "GET", "GET", "HEAD", "OPTIONS"];
const CRUD: &[&str] = &["GET", "GET", "GET", "PUT", "PATCH", "DELETE"];
const CREATE: &[&str] = &["GET", "POST", "POST"];

pub const PETSTORE_ROUTES: &[Route] = &[
    r("/pets", CREATE, 20),
    r("/pets/{petId}", CRUD, 30),
    r("/pets/{petId}/photos", CREATE, 6),
    r("/owners/{ownerId}/pets", READ, 8),
    r("/health", &["GET"], 4),
    s("/static/js/app.{hash}.js", 3),
    s("/favicon.ico", 2),
    s("/assets/img/logo.png", 2),
];

pub const ORDERS_ROUTES: &[Route] = &[
    r("/orders", CREATE, 25),
    r("/orders/{orderId}", CRUD, 30),
    r("/orders/{orderId}/items/{itemId}", CRUD, 12),
    r("/customers/{customerId}", CRUD, 10),
    r("/customers/{customerId}/orders", READ, 8),
    r("/search", READ, 6),
    s("/css/site.css", 2),
    s("/fonts/inter-var.woff2", 1),
];

pub const SHOP_ROUTES: &[Route] = &[
    r("/", READ, 5),
    r("/products", READ, 25),
    r("/products/{sku}", CRUD, 25),
    r("/cart/{cartId}", CRUD, 15),
    r("/cart/{cartId}/checkout", &["POST"], 5),
    r("/users/{userId}/profile", CRUD, 8),
    r("/api/v2/recommendations", READ, 6),
    s("/images/products/{sku}.jpg", 4),
    // Not a static file to the default filter (`txt` is not on its list): it is delivered.
    r("/robots.txt", &["GET"], 1),
];

pub const MEDIA_ROUTES: &[Route] = &[
    r("/media/{mediaId}", CRUD, 30),
    r("/media/{mediaId}/thumbnail", READ, 15),
    r("/uploads", &["POST"], 10),
    r("/albums/{albumId}/media", READ, 10),
    s("/player/player.min.js", 3),
    s("/player/skin.svg", 2),
];

/// WebSocket route keys (eventType, routeKey).
pub const WEBSOCKET_EVENTS: &[(&str, &str, u32)] = &[
    ("CONNECT", "$connect", 2),
    ("MESSAGE", "sendMessage", 6),
    ("MESSAGE", "$default", 2),
    ("DISCONNECT", "$disconnect", 2),
];

pub const STAGES: &[Stage] = &[
    Stage {
        kind: ApiKind::Rest,
        api_id: "a1b2c3d4e5",
        stage: "prod",
        format: LineFormat::Recommended,
        log_group: "/aws/apigateway/petstore-prod",
        weight: 30,
        routes: PETSTORE_ROUTES,
    },
    Stage {
        kind: ApiKind::Rest,
        api_id: "a1b2c3d4e5",
        stage: "dev",
        format: LineFormat::ConsoleClf,
        log_group: "API-Gateway-Access-Logs_a1b2c3d4e5/dev",
        weight: 6,
        routes: PETSTORE_ROUTES,
    },
    Stage {
        kind: ApiKind::Rest,
        api_id: "7hq2xk9d1m",
        stage: "v1",
        format: LineFormat::ConsoleJson,
        log_group: "/aws/apigateway/orders-v1",
        weight: 10,
        routes: ORDERS_ROUTES,
    },
    Stage {
        kind: ApiKind::Rest,
        api_id: "7hq2xk9d1m",
        stage: "beta",
        format: LineFormat::ConsoleXml,
        log_group: "/aws/apigateway/orders-beta",
        weight: 4,
        routes: ORDERS_ROUTES,
    },
    Stage {
        kind: ApiKind::Rest,
        api_id: "7hq2xk9d1m",
        stage: "test",
        format: LineFormat::ConsoleCsv,
        log_group: "/aws/apigateway/orders-test",
        weight: 4,
        routes: ORDERS_ROUTES,
    },
    Stage {
        kind: ApiKind::Http,
        api_id: "1ax3mj7iqf",
        stage: "$default",
        format: LineFormat::Recommended,
        log_group: "cequence-http-api-access-logs",
        weight: 25,
        routes: SHOP_ROUTES,
    },
    Stage {
        kind: ApiKind::Http,
        api_id: "1ax3mj7iqf",
        stage: "v2",
        format: LineFormat::ConsoleJson,
        log_group: "/aws/apigateway/shop-v2",
        weight: 6,
        routes: SHOP_ROUTES,
    },
    Stage {
        kind: ApiKind::Http,
        api_id: "m3d1a8x0qz",
        stage: "$default",
        format: LineFormat::ConsoleClf,
        log_group: "/aws/apigateway/media",
        weight: 4,
        routes: MEDIA_ROUTES,
    },
    Stage {
        kind: ApiKind::Http,
        api_id: "m3d1a8x0qz",
        stage: "staging",
        format: LineFormat::ConsoleCsv,
        log_group: "/aws/apigateway/media-staging",
        weight: 2,
        routes: MEDIA_ROUTES,
    },
    Stage {
        kind: ApiKind::Http,
        api_id: "m3d1a8x0qz",
        stage: "canary",
        format: LineFormat::ConsoleXml,
        log_group: "/aws/apigateway/media-canary",
        weight: 2,
        routes: MEDIA_ROUTES,
    },
    Stage {
        kind: ApiKind::Websocket,
        api_id: "z1ctxygne5",
        stage: "production",
        format: LineFormat::WebsocketJson,
        log_group: "/aws/apigateway/chat-production",
        weight: 4,
        routes: &[],
    },
];

/// Response statuses with their weights.
pub const STATUSES: &[(u16, u32)] = &[
    (200, 700),
    (201, 50),
    (204, 30),
    (304, 20),
    (400, 40),
    (401, 30),
    (403, 20),
    (404, 60),
    (409, 5),
    (429, 10),
    (500, 20),
    (502, 8),
    (503, 7),
];

/// User agents: common, long, and odd (quotes, unicode, control-looking text).
pub const USER_AGENTS: &[(&str, u32)] = &[
    ("curl/8.4.0", 20),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", 30),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", 15),
    ("okhttp/4.12.0", 10),
    ("python-requests/2.31.0", 10),
    ("Go-http-client/2.0", 6),
    ("aws-sdk-java/2.25.1 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard", 5),
    ("PostmanRuntime/7.37.0", 4),
    ("Amazon CloudFront", 3),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/UQ1A.240205.004; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.119 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/454.0.0.44.108;FBBV/556278123;FBDM/{density=2.625,width=1080,height=2400};FBLC/de_DE;FBRV/0;FBCR/Telekom.de;FBMF/Google;FBBD/google;FBPN/com.facebook.katana;FBDV/Pixel 8 Pro;FBSV/14;FBOP/1;FBCA/arm64-v8a:;]", 2),
    ("Ünïcødé-Client/1.0 (日本語; Ελληνικά; emoji 🚀)", 2),
    ("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; \"quoted\" token)", 2),
    ("sqlmap/1.8#stable (https://sqlmap.org)", 1),
    ("' OR '1'='1", 1),
    ("Mozilla/5.0 \\ backslash \\t not-a-tab", 1),
    ("-", 2),
];

/// Client IPs: a few busy clients and a long tail, IPv4 and IPv6.
pub const HOT_IPS: &[&str] = &[
    "1.128.0.0",
    "203.0.113.7",
    "198.51.100.23",
    "2001:db8::1",
    "2001:db8:85a3::8a2e:370:7334",
];

//! Sign-in automation written for Entra's own pages runs unchanged (issue 8 item 4): a small
//! browser that knows nothing of entra-mock fills and clicks by element id, and posts what a
//! browser posts (the form's hidden, text and checked fields, plus the name and value of the
//! submit input clicked).

use std::collections::HashMap;

use crate::helpers::*;
use crate::signin_helpers::{
    authorize_url, code_request, location, reply_params, stay_signed_in_app, totp_code,
};

/// The attributes of every `<input>` of the page's form, in order.
struct Page {
    action: String,
    inputs: Vec<HashMap<String, String>>,
}

fn attributes(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit([' ', '\n'])
            .next()
            .unwrap_or("")
            .to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').unwrap();
        out.insert(name, crate::signin_helpers::unescape(&after[..end]));
        rest = &after[end + 1..];
    }
    for flag in ["checked", "disabled"] {
        if tag
            .split_whitespace()
            .any(|w| w.trim_end_matches('>') == flag)
        {
            out.insert(flag.to_string(), String::new());
        }
    }
    out
}

impl Page {
    fn parse(html: &str) -> Page {
        let start = html.find("<form").expect("a form");
        let form = &html[start..start + html[start..].find("</form>").expect("form end")];
        let head = &form[..form.find('>').unwrap()];
        let action = attributes(head)["action"].clone();
        let mut inputs = Vec::new();
        let mut rest = form;
        while let Some(i) = rest.find("<input") {
            let len = rest[i..].find('>').unwrap();
            inputs.push(attributes(&rest[i..i + len]));
            rest = &rest[i + len..];
        }
        Page { action, inputs }
    }

    fn by_id(&mut self, id: &str) -> &mut HashMap<String, String> {
        self.inputs
            .iter_mut()
            .find(|a| a.get("id").map(String::as_str) == Some(id))
            .unwrap_or_else(|| panic!("no element #{id}"))
    }

    /// Types into the element `#id`.
    fn fill(&mut self, id: &str, value: &str) -> &mut Self {
        self.by_id(id).insert("value".into(), value.into());
        self
    }

    /// Clicks the submit input `#id`: the browser posts the form.
    async fn click(
        &mut self,
        app: &TestApp,
        client: &reqwest::Client,
        id: &str,
    ) -> reqwest::Response {
        let clicked = self.by_id(id).clone();
        assert_eq!(
            clicked.get("type").map(String::as_str),
            Some("submit"),
            "#{id} submits"
        );
        let mut fields: Vec<(String, String)> = Vec::new();
        for a in &self.inputs {
            let (Some(name), kind) = (a.get("name"), a.get("type").map(String::as_str)) else {
                continue;
            };
            let value = a.get("value").cloned().unwrap_or_default();
            match kind {
                Some("submit") | Some("button") => {
                    if a.get("id") == clicked.get("id") {
                        fields.push((name.clone(), value));
                    }
                }
                Some("checkbox") | Some("radio") => {
                    if a.contains_key("checked") {
                        fields.push((name.clone(), value));
                    }
                }
                _ => fields.push((name.clone(), value)),
            }
        }
        client
            .post(format!("{}{}", app.https, self.action))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }
}

async fn page_of(res: reqwest::Response) -> Page {
    assert_eq!(res.status(), 200, "a page, not a redirect");
    Page::parse(&res.text().await.unwrap())
}

#[tokio::test]
async fn an_automation_script_written_for_entras_pages_signs_bob_in_unchanged() {
    let (app, _dir) = stay_signed_in_app().await;
    let client = app.client();
    let url = authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT));
    let res = client.get(url).send().await.unwrap();

    let mut p = page_of(res).await;
    let res = p
        .fill("i0116", BOB)
        .click(&app, &client, "idSIButton9")
        .await;
    let mut p = page_of(res).await;
    let res = p
        .fill("i0118", PASSWORD)
        .click(&app, &client, "idSIButton9")
        .await;
    let mut p = page_of(res).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = p
        .fill("idTxtBx_SAOTCC_OTC", &code)
        .click(&app, &client, "idSubmit_SAOTCC_Continue")
        .await;
    // "Stay signed in?": the checkbox is there, and Yes is the primary button.
    let mut p = page_of(res).await;
    p.by_id("KmsiCheckboxField")
        .insert("checked".into(), String::new());
    let res = p.click(&app, &client, "idSIButton9").await;

    let loc = location(&res);
    assert!(loc.starts_with(BFF_REDIRECT), "{loc}");
    assert!(reply_params(&loc).contains_key("code"));
    let cookie = crate::signin_helpers::set_cookie(&res, "ESTSAUTHPERSISTENT").expect("SSO cookie");
    assert!(
        cookie.contains("Max-Age"),
        "Yes keeps the session: {cookie}"
    );
}

#[tokio::test]
async fn no_on_stay_signed_in_is_the_back_button_and_keeps_a_browser_session() {
    let (app, _dir) = stay_signed_in_app().await;
    let client = app.client();
    let url = authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT));
    let mut p = page_of(client.get(url).send().await.unwrap()).await;
    let res = p
        .fill("i0116", ALICE)
        .click(&app, &client, "idSIButton9")
        .await;
    let mut p = page_of(res).await;
    let res = p
        .fill("i0118", PASSWORD)
        .click(&app, &client, "idSIButton9")
        .await;
    let mut p = page_of(res).await;
    let res = p.click(&app, &client, "idBtn_Back").await;
    assert!(location(&res).starts_with(BFF_REDIRECT));
    let cookie = crate::signin_helpers::set_cookie(&res, "ESTSAUTH").expect("SSO cookie");
    assert!(
        !cookie.contains("Max-Age"),
        "a browser-session cookie: {cookie}"
    );
}

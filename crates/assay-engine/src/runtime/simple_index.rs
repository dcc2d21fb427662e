//! PEP 503 "simple" package index pages: the HTML list of a project's files, each link
//! carrying a `#sha256=<hex>` fragment. Only the HTML form is used (JSON APIs may be
//! unreachable behind a proxy).

use url::Url;

use crate::error::{EngineError, Result};

/// A file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexLink {
    pub filename: String,
    pub url: Url,
    pub sha256: Option<String>,
}

/// PEP 503 name normalization: lowercase, runs of `-_.` become `-`.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The URL of a project's page under an index root.
pub(crate) fn project_url(index: &str, project: &str) -> Result<Url> {
    let base = if index.ends_with('/') {
        index.to_string()
    } else {
        format!("{index}/")
    };
    let base = Url::parse(&base).map_err(|e| {
        EngineError::invalid(
            crate::setting::Setting::IndexUrl,
            format!("'{index}' is not a URL: {e}"),
        )
    })?;
    base.join(&format!("{}/", normalize(project)))
        .map_err(|e| EngineError::invalid(crate::setting::Setting::IndexUrl, e.to_string()))
}

/// Parses a project page into its file links, resolving relative hrefs against `page_url`.
pub(crate) fn parse_project_page(html: &str, page_url: &Url) -> Result<Vec<IndexLink>> {
    let dom = tl::parse(html, tl::ParserOptions::default()).map_err(|e| {
        EngineError::Install(format!("cannot parse the index page {page_url}: {e}"))
    })?;
    let parser = dom.parser();
    let mut links = Vec::new();
    for handle in dom.query_selector("a[href]").into_iter().flatten() {
        let Some(tag) = handle.get(parser).and_then(|n| n.as_tag()) else {
            continue;
        };
        let Some(Some(href)) = tag.attributes().get("href") else {
            continue;
        };
        let href = decode_entities(&href.as_utf8_str());
        let Ok(mut url) = page_url.join(&href) else {
            continue;
        };
        let sha256 = url
            .fragment()
            .and_then(|f| f.strip_prefix("sha256="))
            .map(|h| h.to_ascii_lowercase());
        url.set_fragment(None);
        let filename = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(percent_decode)
            .unwrap_or_default();
        if !filename.is_empty() {
            links.push(IndexLink {
                filename,
                url,
                sha256,
            });
        }
    }
    Ok(links)
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#43;", "+")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("onnxruntime_gpu"), "onnxruntime-gpu");
        assert_eq!(normalize("Foo.._Bar"), "foo-bar");
    }

    #[test]
    fn parses_links_with_hashes() {
        let page = Url::parse("https://idx.example/simple/onnxruntime/").unwrap();
        let html = r#"<!DOCTYPE html><html><body>
            <a href="../../packages/ab/onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=ABCDEF">onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl</a>
            <a href="https://files.example/onnxruntime-1.31.1.tar.gz">sdist</a>
        </body></html>"#;
        let links = parse_project_page(html, &page).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].filename,
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(
            links[0].url.as_str(),
            "https://idx.example/packages/ab/onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(links[0].sha256.as_deref(), Some("abcdef"));
        assert_eq!(links[1].sha256, None);
    }
}

//! The CDN: attachment downloads, with expiring links.

use super::*;

pub(super) async fn download(
    s: S,
    Path((cid, fid, name)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    let st = s.lock();
    let fresh = q.get("ex") == Some(&format!("{:x}", st.cdn_generation));
    let file = fid
        .parse::<u64>()
        .ok()
        .and_then(|f| st.files.get(&f))
        .filter(|f| fresh && f.channel_id.to_string() == cid && f.filename == name);
    match file {
        Some(f) => {
            let ct = f
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            ([("content-type", ct)], Bytes::from(f.data.clone())).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "This content is no longer available.",
        )
            .into_response(),
    }
}

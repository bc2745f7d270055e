/*
 * blip-helpdesk-bridge -> ServiceNow push: files added to the bridge's records.  OUR CONTRACT, NOT A SERVICENOW FORMAT.
 * Contract id: blip-helpdesk-bridge/servicenow-push/v1, event_type "attachment.added" (the companion of
 * business-rule.js, which pushes comments and state changes; same system properties, same signature).
 *
 * Business Rule (sys_script):  Table: sys_attachment | When: after | Insert: true | Update: false
 *   Advanced: true | Order: 1000
 *   Condition: current.table_name == 'incident'      (your SERVICENOW_TABLE)
 * Signature: X-Bridge-Signature = "v1=" + base64(HMAC-SHA256(secret, X-Bridge-Timestamp + "." + rawBody)).
 * ES5 only (global scope). In a scoped app use gs.base64Encode() instead of GlideStringUtil.base64Encode().
 * The bridge downloads the file from the Attachment API with its own credentials; the push carries no bytes.
 * Polling (sys_attachment) catches anything this rule could not push.
 */
/* global gs, current, GlideRecord, GlideDateTime, GlideCertificateEncryption, GlideStringUtil, sn_ws */
(function executeRule(current) {
  var CONTRACT = 'blip-helpdesk-bridge/servicenow-push/v1';
  var endpoint = gs.getProperty('blip_bridge.push.endpoint');
  var secret = gs.getProperty('blip_bridge.push.secret');
  var integrationUser = gs.getProperty('blip_bridge.integration_user', '');
  if (!endpoint || !secret) {
    gs.error('[blip-bridge] push not configured (blip_bridge.push.endpoint / blip_bridge.push.secret)');
    return;
  }

  var record = new GlideRecord(current.getValue('table_name'));
  if (!record.get(current.getValue('table_sys_id'))) return;
  if (record.getValue('correlation_display') != 'blip-helpdesk-bridge') return;

  function nowUtc() {
    return new GlideDateTime().getValue(); // "yyyy-MM-dd HH:mm:ss", UTC
  }

  // JSON with every non-ASCII character written as \uXXXX, so the signed bytes are unambiguous.
  function asciiJson(obj) {
    return JSON.stringify(obj).replace(/[\u007f-\uffff]/g, function (c) {
      return '\\u' + ('0000' + c.charCodeAt(0).toString(16)).slice(-4);
    });
  }

  var createdBy = current.getValue('sys_created_by');
  var eventId = current.getUniqueValue();
  var body = asciiJson({
    contract: CONTRACT,
    event_id: eventId,
    event_type: 'attachment.added',
    table: record.getTableName(),
    record: {
      sys_id: record.getUniqueValue(),
      number: record.getValue('number'),
      correlation_id: record.getValue('correlation_id'),
      correlation_display: record.getValue('correlation_display'),
      state: record.getValue('state'),
      state_label: record.getDisplayValue('state'), // localised; informative only
      sys_updated_on: record.getValue('sys_updated_on'),
      sys_updated_by: record.getValue('sys_updated_by'),
    },
    attachment: {
      sys_id: eventId,
      file_name: current.getValue('file_name'),
      content_type: current.getValue('content_type'),
      size_bytes: current.getValue('size_bytes'),
      sys_created_on: current.getValue('sys_created_on'),
      sys_created_by: createdBy,
      author_name: gs.getUserDisplayName(),
      author_is_integration_user: createdBy == integrationUser,
    },
    sent_at: nowUtc(),
  });

  var ts = String(Math.floor(new GlideDateTime().getNumericValue() / 1000));
  var mac = new GlideCertificateEncryption().generateMac(
    GlideStringUtil.base64Encode(secret),
    'HmacSHA256',
    ts + '.' + body,
  );
  var r = new sn_ws.RESTMessageV2();
  r.setEndpoint(endpoint);
  r.setHttpMethod('post');
  r.setRequestHeader('Content-Type', 'application/json');
  r.setRequestHeader('Accept', 'application/json');
  r.setRequestHeader('X-Bridge-Event-Id', eventId);
  r.setRequestHeader('X-Bridge-Timestamp', ts);
  r.setRequestHeader('X-Bridge-Signature', 'v1=' + mac);
  r.setRequestBody(body);
  try {
    r.executeAsync(); // do not block the agent's upload; failures are caught up by polling
  } catch (e) {
    gs.error('[blip-bridge] attachment push failed for ' + record.getValue('number') + ': ' + e);
  }
})(current);

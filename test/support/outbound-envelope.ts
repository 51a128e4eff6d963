/**
 * Builds outbound-message envelopes as Salesforce sends them (outbound-messaging WSDL:
 * namespace http://soap.sforce.com/2005/09/outbound, sObjects in
 * urn:sobject.enterprise.soap.sforce.com with xsi:type="sf:Task", nil SessionId).
 */
export interface EnvelopeNotification {
  id: string;
  fields: Record<string, string | null>;
}

function escape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function outboundEnvelope(options: {
  organizationId: string;
  actionId?: string;
  notifications: EnvelopeNotification[];
  sObjectType?: string;
}): string {
  const type = options.sObjectType ?? 'Task';
  const notifications = options.notifications
    .map((notification) => {
      const fields = Object.entries(notification.fields)
        .map(([name, value]) =>
          value === null ? `<sf:${name} xsi:nil="true"/>` : `<sf:${name}>${escape(value)}</sf:${name}>`,
        )
        .join('');
      return `<Notification><Id>${notification.id}</Id><sObject xsi:type="sf:${type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">${fields}</sObject></Notification>`;
    })
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">' +
    `<OrganizationId>${options.organizationId}</OrganizationId>` +
    `<ActionId>${options.actionId ?? '04k5g000000TEST'}</ActionId>` +
    '<SessionId xsi:nil="true"/>' +
    '<EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/65.0/00D5g000004ABCD</EnterpriseUrl>' +
    '<PartnerUrl>https://example.my.salesforce.com/services/Soap/u/65.0/00D5g000004ABCD</PartnerUrl>' +
    notifications +
    '</notifications></soapenv:Body></soapenv:Envelope>'
  );
}

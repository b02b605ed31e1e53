import { parse, type OperationDefinitionNode } from 'graphql';
import { operationLabel } from '../../src/ops/operation-log.plugin';

const label = (query: string) => operationLabel(parse(query).definitions[0] as OperationDefinitionNode);

describe('the operation label of the log line and the metrics', () => {
  it('when an operation has several root fields, then the label names each, sorted', () => {
    expect(label('mutation { logout login(code: "x") { token } }')).toBe('login,logout');
  });

  it('when a root field repeats, under aliases or not, then it is named once, so no new label (metrics series) is made', () => {
    expect(label('{ __typename __typename __typename }')).toBe('__typename');
    expect(label('{ a: me { id } b: me { id } me { id } }')).toBe('me');
    expect(label('{ me { id } __typename me { openid } }')).toBe('__typename,me');
  });

  it('when there is no operation, then the label is invalid', () => {
    expect(operationLabel(undefined)).toBe('invalid');
  });
});

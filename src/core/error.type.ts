import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ERROR_CODES, type ErrorCode } from './errors';

/** ERROR_CODES as a GraphQL enum: each code is a value, described by its text there. */
export const ErrorCodeValues = Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code])) as {
  [C in ErrorCode]: C;
};

registerEnumType(ErrorCodeValues, {
  name: 'ErrorCode',
  description:
    'Every code this server answers in errors[].extensions.code. Branch on the code, never on the message. See ErrorExtensions for the fields some codes add.',
  valuesConfig: Object.fromEntries(Object.entries(ERROR_CODES).map(([code, text]) => [code, { description: text }])),
});

/**
 * A client reads the codes in `errors[].extensions`, which GraphQL answers beside `data`, so no field returns this
 * type: it is in the schema (buildGraphQLSchema's orphanedTypes) to type that object, and for codegen to emit
 * ErrorCode to a client that selects it in a fragment.
 */
@ObjectType({
  description:
    'What errors[].extensions holds in an error answer. No field returns it (GraphQL answers errors beside data): it names the codes and the fields that come with them, for GraphiQL and codegen (select it in a fragment). code is always there; each other field only with the codes its description names.',
})
export class ErrorExtensions {
  @Field(() => ErrorCodeValues, { description: 'Why the operation failed.' })
  code!: ErrorCode;

  @Field(() => Int, { nullable: true, description: 'RATE_LIMITED: seconds until the window resets; retry after them.' })
  retryAfterSeconds?: number;

  @Field(() => String, {
    nullable: true,
    description: 'BAD_USER_INPUT from a check of this server: the argument at fault (e.g. iv, encryptedData, money).',
  })
  field?: string;

  @Field(() => String, {
    nullable: true,
    description:
      'WECHAT_UNAVAILABLE and PAYMENT_FAILED: the WeChat API that failed, e.g. jscode2session or unifiedorder.',
  })
  api?: string;

  @Field(() => String, {
    nullable: true,
    description: "PAYMENT_FAILED: WeChat Pay's err_code, or RETURN_FAIL when its return_code was FAIL.",
  })
  wechatErrCode?: string;

  @Field(() => String, {
    nullable: true,
    description:
      "PAYMENT_FAILED: WeChat Pay's description of the failure (err_code_des or return_msg), fit to show the user.",
  })
  wechatErrMsg?: string;
}
